import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The `dispatch: thread` thread's entry: compiled in a package, through tsx in a checkout. */
export function directEntryFile(): string {
  const compiled = fileURLToPath(new URL('../thread/direct-entry.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  return fileURLToPath(new URL('../thread/direct-entry.dev.mjs', import.meta.url));
}
