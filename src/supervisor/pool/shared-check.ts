import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import type { FunctionConfig, ModuleFunctionConfig } from '../manifest/types.js';
import { type HandlerCheckResult, isCheckReport } from '../thread/check-messages.js';
import { kDefaultMinThreads } from './thread-count.js';

/** What the start-up check found for one function: its pool takes it instead of a thread's check. */
export type CheckedLoad = Pick<HandlerCheckResult, 'error' | 'files'>;

function checkEntryFile(): string {
  const compiled = fileURLToPath(new URL('../thread/check-entry.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  return fileURLToPath(new URL('../thread/check-entry.dev.mjs', import.meta.url));
}

/**
 * Whether a function's start-up check can be the shared one: it starts no thread at
 * start of its own (minThreads 0), its handlers run in threads, and no memory limit of
 * its own applies to the load (the shared thread has none).
 */
function sharesTheCheck(config: FunctionConfig): config is ModuleFunctionConfig {
  return (
    config.kind === 'module' &&
    config.isolation !== 'process' &&
    config.maxMemoryMb === undefined &&
    (config.minThreads ?? kDefaultMinThreads) === 0
  );
}

/**
 * Issue 15: loads the handlers of every function that starts no thread of its own in
 * one thread (thread/check-entry.ts), instead of one check thread and one hooks thread
 * per function (40 functions took ~3.7 CPU s to start on a 2-core box). Per function,
 * what its load found: the same as its own check would have (HANDLER_LOAD and its
 * reason, the files the watcher follows). A function missing from the result checks
 * itself as before: the shared thread died (a handler that exits or crashes it at load
 * takes the others' checks with it), and each then gets its own thread.
 */
export async function checkHandlersTogether(
  configs: readonly FunctionConfig[],
  log: Logger,
): Promise<Map<string, CheckedLoad>> {
  const shared = configs.filter(sharesTheCheck);
  const checked = new Map<string, CheckedLoad>();
  if (shared.length < 2) return checked;
  const handlers = [...new Map(shared.map((c) => [`${c.handler}\0${c.export}`, c])).values()].map((c) => ({
    file: c.handler,
    exportName: c.export,
  }));
  const worker = new Worker(checkEntryFile(), { workerData: { handlers }, stdout: false, stderr: false });
  const results = await new Promise<readonly HandlerCheckResult[] | null>((resolve) => {
    worker.on('message', (message: unknown) => {
      if (isCheckReport(message)) resolve(message.results);
    });
    worker.once('error', (err) => {
      log.warn({ err }, 'the shared start-up check thread failed; each function checks its handler alone');
      resolve(null);
    });
    worker.once('exit', () => resolve(null));
  });
  // A handler may hold the thread open (a timer, a socket made at load): it has served.
  await worker.terminate();
  for (const result of results ?? []) {
    for (const config of shared) {
      if (config.handler === result.file && config.export === result.exportName)
        checked.set(config.name, { error: result.error, files: result.files });
    }
  }
  return checked;
}
