import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TypeScript from 'typescript';
import type { Manifest } from '../manifest/types.js';

const kTypeScriptFiles = new Set(['.ts', '.mts', '.cts']);

/** Options for a handler with no tsconfig.json above it: what a fresh Node project would use. */
const kDefaults: TypeScript.CompilerOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
};

export type TypeCheckOutcome =
  /** No `.ts` handler in the manifest. */
  | { readonly kind: 'nothing' }
  /** The project has no TypeScript of its own to check with. */
  | { readonly kind: 'no-typescript'; readonly from: string }
  | {
      readonly kind: 'checked';
      readonly version: string;
      readonly files: number;
      /** FILE:LINE:COLUMN: TSnnnn: message, in file order. */
      readonly problems: readonly string[];
    };

/**
 * Type-checks the manifest's `.ts` handlers (and what they import) with the project's
 * own TypeScript, resolved from the manifest's folder upwards, and the tsconfig.json
 * nearest each handler. `gworker start` never type-checks: tsx strips the types and
 * runs the code, so this is the place a type error shows before a job meets it.
 * TypeScript loads only here: it is large, and nothing else needs it.
 */
export async function typeCheckHandlers(manifest: Manifest): Promise<TypeCheckOutcome> {
  const files = manifest.functions.flatMap((fn) =>
    fn.kind === 'module' && kTypeScriptFiles.has(path.extname(fn.handler)) ? [fn.handler] : [],
  );
  if (files.length === 0) return { kind: 'nothing' };
  const from = path.dirname(manifest.file);
  const ts = await projectTypeScript(from);
  if (ts === null) return { kind: 'no-typescript', from };
  const byConfig = new Map<string, string[]>();
  for (const file of new Set(files)) {
    const config = ts.findConfigFile(path.dirname(file), ts.sys.fileExists) ?? '';
    byConfig.set(config, [...(byConfig.get(config) ?? []), file]);
  }
  const problems: string[] = [];
  for (const [config, roots] of byConfig) {
    const program = ts.createProgram(roots, compilerOptions(ts, config));
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) problems.push(format(ts, diagnostic));
  }
  return { kind: 'checked', version: ts.version, files: files.length, problems };
}

async function projectTypeScript(from: string): Promise<typeof TypeScript | null> {
  let resolved: string;
  try {
    resolved = createRequire(path.join(from, 'gworker.yaml')).resolve('typescript');
  } catch {
    return null;
  }
  const mod = (await import(pathToFileURL(resolved).href)) as { default?: typeof TypeScript };
  return mod.default ?? (mod as unknown as typeof TypeScript);
}

function compilerOptions(ts: typeof TypeScript, config: string): TypeScript.CompilerOptions {
  if (config === '') return kDefaults;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    config,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  );
  return parsed === undefined ? kDefaults : { ...parsed.options, noEmit: true };
}

function format(ts: typeof TypeScript, diagnostic: TypeScript.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
  if (diagnostic.file === undefined || diagnostic.start === undefined) return `TS${diagnostic.code}: ${text}`;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `${diagnostic.file.fileName}:${line + 1}:${character + 1}: TS${diagnostic.code}: ${text}`;
}
