import { isMap, isScalar, type Node } from 'yaml';
import type { NodeReader } from './node-reader.js';

/**
 * Settings `dispatch: thread` cannot honour, each with why: the thread takes its jobs
 * itself, so nothing on the main thread sees a job before it runs or after it fails.
 */
const kRefused: Readonly<Record<string, string>> = {
  retry:
    'a thread answers its own jobs: there is no supervisor between the failure and the job server to retry it',
  deadLetter: 'a thread answers its own jobs: there is no supervisor to submit a dead letter',
  rateLimit: 'each thread grabs on its own connections: no shared window can hold them back',
  prefetch: 'each thread grabs only with a free slot of its own',
  weight: "the box's slots are shared through the supervisor's grabs, which this function does not use",
  cpu: "the box's CPU slots are shared through the supervisor's grabs, which this function does not use",
  isolation: 'the handler runs in the thread that owns the connections',
  maxJobsPerThread: 'threads are not recycled in this mode',
  minThreads:
    'every thread starts at once (each holds connections: one started on demand would need a job nobody grabbed)',
  idleTimeout: 'every thread holds its connections for as long as the function runs',
};

/**
 * Reads `dispatch`: `supervisor` (the default: the main thread holds the connections and
 * hands each job to a handler thread) or `thread` (each handler thread owns its
 * job-server connections; supervisor/direct/). With `thread`, the settings it cannot
 * honour are refused at their own FILE:LINE:COLUMN.
 */
export function readDispatch(
  reader: NodeReader,
  settings: ReadonlyMap<string, Node | null>,
  where: string,
  manifest: { readonly inheritsRetry: boolean; readonly boxSlots: boolean },
): 'thread' | undefined {
  const node = settings.get('dispatch');
  if (node === undefined) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (value === 'supervisor') return undefined;
  if (value !== 'thread') {
    reader.report(node, `${where}.dispatch`, 'expected supervisor or thread');
    return undefined;
  }
  for (const [key, why] of Object.entries(kRefused)) {
    if (settings.has(key))
      reader.report(
        settings.get(key) ?? null,
        `${where}.${key}`,
        `"${key}" does not apply with dispatch: thread: ${why}`,
      );
  }
  // A range is resized in place like any other (FunctionScaling.resize), thread by thread.
  const concurrency = settings.get('concurrency');
  const min = isMap(concurrency) ? concurrency.get('min', true) : undefined;
  if (isScalar(min) && min.value === 0)
    reader.report(
      min,
      `${where}.concurrency.min`,
      'dispatch: thread needs min: 1 or more: its threads hold the connections, and with none no job server would hear of the function or hand it a job',
    );
  if (manifest.boxSlots)
    reader.report(
      node,
      `${where}.dispatch`,
      "box.slots is set, and a dispatch: thread function takes its jobs outside the box's slots (its threads grab for themselves): drop box.slots or use dispatch: supervisor",
    );
  if (manifest.inheritsRetry && !settings.has('retry'))
    reader.report(
      node,
      `${where}.dispatch`,
      'the manifest\'s top-level "retry" applies to this function, and dispatch: thread cannot retry: drop one of them',
    );
  return 'thread';
}
