import { GearmanServer } from '../../../src/server/server.js';
import { startGearmand } from '../../helpers/gearmand.js';

/** Options both servers have, by gearmand's names. */
export interface TargetOptions {
  readonly jobRetries?: number;
  readonly workerWakeup?: number;
  readonly exceptions?: boolean;
  readonly roundRobin?: boolean;
}

export interface RunningTarget {
  readonly port: number;
  readonly address: string;
  stop(): Promise<void>;
}

export interface Target {
  readonly name: 'gearmand' | 'gworker';
  start(options?: TargetOptions): Promise<RunningTarget>;
}

/** Both servers make handles with this prefix, so a test can compare handles. */
export const HANDLE_PREFIX = 'H:conformance';

/**
 * The two servers every conformance scenario runs against: the real gearmand 1.1.20 and
 * gworker's, in-process on port 0. A scenario asserts the same observable result on both.
 */
export const targets: readonly Target[] = [
  {
    name: 'gearmand',
    async start(options = {}) {
      const args = [`--job-handle-prefix=${HANDLE_PREFIX}`];
      if (options.jobRetries !== undefined) args.push(`--job-retries=${options.jobRetries}`);
      if (options.workerWakeup !== undefined) args.push(`--worker-wakeup=${options.workerWakeup}`);
      if (options.exceptions === true) args.push('--exceptions');
      if (options.roundRobin === true) args.push('--round-robin');
      const gearmand = await startGearmand(args);
      return { port: gearmand.port, address: gearmand.address, stop: () => gearmand.stop() };
    },
  },
  {
    name: 'gworker',
    async start(options = {}) {
      const server = new GearmanServer({ port: 0, jobHandlePrefix: HANDLE_PREFIX, ...options });
      const { port } = await server.listen();
      return { port, address: `127.0.0.1:${port}`, stop: () => server.close() };
    },
  },
];
