import { existsSync } from 'node:fs';
import path from 'node:path';

const kDependency = /(^|[/\\])node_modules([/\\]|$)/;

/**
 * The files whose change may change a handler's code: the handler, the files its thread
 * loaded (`loaded`, its module graph), and the package.json that decides how its .js
 * and .ts files load ("type"). Never anything under node_modules (dependencies change
 * by an install, which is a deploy: restart or reload the manifest), nor under a dot
 * folder beside the handler (.git, .cache, editors' folders). Anything else in the
 * handler's folder (a log, a data file, an SQLite database the handler writes) is not
 * code and is not watched (issue 10, item 5: a log next to the handler reloaded it
 * once per job, and one next to the manifest reloaded every function in a loop).
 */
export function codeFilesOf(handler: string, loaded: readonly string[]): string[] {
  const home = path.dirname(handler);
  const files = new Set([handler]);
  for (const file of loaded) {
    if (path.isAbsolute(file) && !kDependency.test(file) && !inDotFolder(home, file)) files.add(file);
  }
  const manifest = packageJsonOf(home);
  if (manifest !== null) files.add(manifest);
  return [...files];
}

/** Whether a folder named .something lies between the handler's folder and the file. */
function inDotFolder(home: string, file: string): boolean {
  const folders = path.relative(home, path.dirname(file)).split(path.sep);
  return folders.some((part) => part.startsWith('.') && part !== '..' && part !== '.');
}

/** The nearest package.json at or above `dir` (what Node reads for "type"), if any. */
function packageJsonOf(dir: string): string | null {
  for (let at = dir; !kDependency.test(at); at = path.dirname(at)) {
    const candidate = path.join(at, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(at) === at) return null;
  }
  return null;
}
