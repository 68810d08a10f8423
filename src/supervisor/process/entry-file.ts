import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The program a handler process runs: the compiled entry in an installed package, or a
 * small bootstrap that loads the TypeScript entry through tsx in a checkout.
 */
export function processEntryFile(): string {
  const compiled = fileURLToPath(new URL('./process-entry.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  return fileURLToPath(new URL('./process-entry.dev.mjs', import.meta.url));
}
