import { isScalar, type Node } from 'yaml';
import type { NodeReader } from './node-reader.js';

/** A module function's settings that say where its handler runs (issue 17). */
export const kIsolationKeys = ['isolation', 'maxRssMb', 'maxJobsPerProcess', 'jobsPerProcess'] as const;

/** Only with `isolation: process`; and the thread settings that have a process twin. */
const kProcessOnly = ['maxRssMb', 'maxJobsPerProcess', 'jobsPerProcess'] as const;
const kThreadTwins: Readonly<Record<string, string>> = {
  maxJobsPerThread: 'maxJobsPerProcess',
  jobsPerThread: 'jobsPerProcess',
};

/** Threads leave `isolation` out of the config (absent means thread). */
export interface IsolationSettings {
  readonly isolation?: 'process';
  readonly maxRssMb?: number;
  readonly maxJobsPerProcess?: number;
  /** jobsPerProcess, which fills the config's jobsPerThread (jobs one worker runs at once). */
  readonly jobsPerProcess?: number;
}

/**
 * Reads `isolation` (thread, the default, or process) and the settings that go with
 * processes, refusing each where it does not apply, at its own file:line:column.
 */
export function readIsolation(
  reader: NodeReader,
  settings: ReadonlyMap<string, Node | null>,
  where: string,
): IsolationSettings {
  const node = settings.get('isolation');
  let isolation: 'thread' | 'process' = 'thread';
  if (node !== undefined) {
    const value = isScalar(node) ? node.value : undefined;
    if (value === 'thread' || value === 'process') isolation = value;
    else reader.report(node, `${where}.isolation`, 'expected thread or process');
  }
  const refuse = (key: string, why: string): void => {
    reader.report(settings.get(key) ?? null, `${where}.${key}`, why);
  };
  if (isolation === 'thread') {
    for (const key of kProcessOnly) {
      if (settings.has(key)) refuse(key, `"${key}" applies only with isolation: process`);
    }
    return {};
  }
  for (const [key, twin] of Object.entries(kThreadTwins)) {
    if (settings.has(key)) refuse(key, `"${key}" does not apply with isolation: process; use "${twin}"`);
  }
  const int = (key: string, min: number, max: number): number | undefined =>
    settings.has(key) ? reader.integer(settings.get(key) ?? null, `${where}.${key}`, min, max) : undefined;
  const maxRssMb = int('maxRssMb', 16, 1_048_576);
  const maxJobsPerProcess = int('maxJobsPerProcess', 1, Number.MAX_SAFE_INTEGER);
  const jobsPerProcess = int('jobsPerProcess', 1, 10_000);
  return {
    isolation,
    ...(maxRssMb === undefined ? {} : { maxRssMb }),
    ...(maxJobsPerProcess === undefined ? {} : { maxJobsPerProcess }),
    ...(jobsPerProcess === undefined ? {} : { jobsPerProcess }),
  };
}
