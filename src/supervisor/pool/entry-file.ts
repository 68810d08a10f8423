import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The file piscina loads in each handler thread: the compiled entry in an installed
 * package, or a small bootstrap that loads the TypeScript entry through tsx in a checkout.
 */
export function handlerEntryFile(): string {
  const compiled = fileURLToPath(new URL('../thread/handler-entry.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  return fileURLToPath(new URL('../thread/handler-entry.dev.mjs', import.meta.url));
}
