import type { Manifest } from '../manifest/types.js';
import { HandlerPool } from '../pool/handler-pool.js';

/** A function whose handler module cannot load, and why (FILE:LINE:COLUMN when known). */
export interface HandlerLoadProblem {
  readonly function: string;
  readonly message: string;
}

/**
 * Loads every handler module of the manifest as `gworker start` would: a HandlerPool of
 * one scratch thread per function (a scratch process with `isolation: process`),
 * running the same entry and loader, so a syntax error, a missing export or a throw at
 * import is found here and not at start. The workers end once loaded. Commands are not run.
 */
export async function loadHandlers(manifest: Manifest): Promise<HandlerLoadProblem[]> {
  const modules = manifest.functions.flatMap((fn) => (fn.kind === 'module' ? [fn] : []));
  const problems = await Promise.all(
    modules.map(async (fn): Promise<HandlerLoadProblem | null> => {
      // One thread is enough to load the code; the memory limit stays, as a module's
      // top level may allocate.
      const pool = new HandlerPool({ ...fn, concurrency: 1, jobsPerThread: 1, prefetch: 0 }, 0);
      try {
        await pool.check();
        return null;
      } catch (err) {
        return { function: fn.name, message: (err as Error).message };
      } finally {
        await pool.destroy();
      }
    }),
  );
  return problems.filter((p): p is HandlerLoadProblem => p !== null);
}
