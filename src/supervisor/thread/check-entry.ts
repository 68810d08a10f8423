import { parentPort, workerData } from 'node:worker_threads';
import type { CheckedHandler, CheckReport, HandlerCheckResult } from './check-messages.js';
import { loadHandler } from './load-handler.js';
import { ModuleEdges } from './module-edges.js';
import { capThreadOutput } from './output-cap.js';
import { serializeError } from './serialize-error.js';

// What a handler writes to stdout/stderr while it loads is bounded, as in handler threads.
capThreadOutput();

/**
 * The start-up check's thread (pool/shared-check.ts): loads every handler it is given,
 * at once, checks each one's export, and reports per handler the files it loaded, so
 * that a manifest of 40 functions costs one thread (and one hooks thread) at start, not
 * 40 of each. It serves no job: the main thread ends it once it has the report.
 */
async function checkAll(handlers: readonly CheckedHandler[]): Promise<HandlerCheckResult[]> {
  const edges = ModuleEdges.track();
  const errors = await Promise.all(
    handlers.map((h) =>
      loadHandler(h.file, h.exportName).then(
        () => null,
        (err: unknown) => serializeError(err),
      ),
    ),
  );
  return handlers.map((h, i) => ({ ...h, error: errors[i] ?? null, files: edges.filesOf(h.file) }));
}

const results = await checkAll((workerData as { handlers: CheckedHandler[] }).handlers);
const report: CheckReport = { kind: 'checked', results };
parentPort?.postMessage(report);
