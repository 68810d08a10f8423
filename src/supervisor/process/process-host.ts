import { type ChildProcess, fork } from 'node:child_process';
import type { TransferListItem } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import type { ModuleFunctionConfig } from '../manifest/types.js';
import type { WorkerHost } from '../pool/thread-host.js';
import type { StreamRun } from '../pool/thread-stream.js';
import { WorkerEnded } from '../pool/worker-ended.js';
import { releaseGroup, signalGroup, trackGroup } from '../runtime/process-group.js';
import type { OutputDropReport, StreamEnd, StreamTask, ToThread } from '../thread/messages.js';
import { processEntryFile } from './entry-file.js';
import type { FromProcess, ToProcess } from './messages.js';
import { OutputLines } from './output-lines.js';
import { residentSetMb } from './resident-set.js';

/** After a process exits, the longest wait for its pipes to close (a grandchild may hold them). */
const kOutputGraceMs = 1_000;
/** How often a running process's resident set is read against maxRssMb. */
export const kRssWatchMs = 250;

const kSignalHints: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: ' (the kernel OOM killer, or a kill -9)',
  SIGABRT: ' (process.abort(), a native assertion, or its heap ran out)',
  SIGSEGV: ' (a native addon crashed)',
};

/**
 * Handler processes (`isolation: process`): each job stream runs in a child process of
 * its own, forked from process-entry.ts, so that a native crash, memory outside the V8
 * heap or process-wide state (chdir, env, signal handlers) stays in that process. Each
 * child leads a process group (spawned detached): a timeout or maxRssMb ends the group,
 * which takes whatever the handler started with it. The stream's messages cross the IPC
 * channel between this side's MessagePort and the child's.
 */
export class ProcessHost implements WorkerHost {
  readonly kind = 'process';
  readonly #config: ModuleFunctionConfig;
  readonly #log: Logger;
  readonly #outputDropped: (report: OutputDropReport) => void;
  /** Each live child, with a promise that settles once it has exited. */
  readonly #children = new Map<ChildProcess, Promise<void>>();

  constructor(config: ModuleFunctionConfig, log: Logger, outputDropped: (report: OutputDropReport) => void) {
    this.#config = config;
    this.#log = log;
    this.#outputDropped = outputDropped;
  }

  run(task: StreamTask, _transfer: TransferListItem[]): StreamRun {
    const { port, ...rest } = task;
    const child = fork(processEntryFile(), [], {
      detached: true,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Not the supervisor's flags (a test runner's, an inspector): only the heap limit.
      execArgv:
        this.#config.maxMemoryMb === undefined ? [] : [`--max-old-space-size=${this.#config.maxMemoryMb}`],
    });
    const pid = child.pid ?? 0;
    if (pid > 0) trackGroup(pid);
    const log = this.#log.child({ function: this.#config.name, pid });
    const outputs = (['stdout', 'stderr'] as const).map((name) => {
      const lines = new OutputLines(log, name, ({ stream, bytes, lines: writes }) =>
        this.#outputDropped({ kind: 'gworker:output-dropped', threadId: pid, stream, bytes, writes }),
      );
      child[name]?.on('data', (chunk: Buffer) => lines.push(chunk));
      return lines;
    });
    let end: StreamEnd | null = null;
    /** Why the supervisor ended it, when it did (maxRssMb); a timeout says so itself. */
    let endedFor: string | null = null;
    const post = (message: ToProcess): void => {
      if (!child.connected) return;
      try {
        child.send(message);
      } catch {
        // The channel closed as the child died: its exit settles the stream.
      }
    };
    port.on('message', (message: ToThread) => post(message));
    child.on('message', (message: FromProcess) => {
      if (message.kind === 'end') end = message.end;
      // Its worker id is its pid (a timeout ends its group; status names it).
      else if (message.kind === 'ready') port.postMessage({ ...message, threadId: pid });
      else port.postMessage(message);
    });
    const watch = this.#watchRss(pid, (why) => {
      endedFor = why;
      signalGroup(pid, 'SIGKILL');
    });
    const ended = new Promise<StreamEnd>((resolve, reject) => {
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      let failed: Error | null = null;
      let outputClosed = false;
      let settled = false;
      const settle = (): void => {
        // The exit, the channel's close (messages sent before the exit come first) and
        // the pipes' close (its last lines are logged, its drops counted).
        if (settled || exit === null || child.connected || !outputClosed) return;
        settled = true;
        releaseGroup(pid);
        for (const lines of outputs) lines.end();
        port.close();
        if (end !== null) resolve(end);
        else reject(failed ?? this.#died(pid, exit.code, exit.signal, endedFor));
      };
      const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (exit !== null) return;
        exit = { code, signal };
        if (watch !== null) clearInterval(watch);
        // Whatever the handler left running in its group goes with it (and lets go of the pipes).
        signalGroup(pid, 'SIGKILL');
        // A process that left the group may hold the pipes for ever: stop waiting for them.
        setTimeout(() => {
          for (const name of ['stdout', 'stderr'] as const) child[name]?.destroy();
          outputClosed = true;
          settle();
        }, kOutputGraceMs).unref();
        settle();
      };
      child.on('error', (err) => {
        failed = err;
        outputClosed = true;
        exited(null, null);
      });
      child.on('exit', exited);
      child.on('close', () => {
        outputClosed = true;
        settle();
      });
      child.on('disconnect', settle);
    });
    const done = ended.then(
      () => {},
      () => {},
    );
    this.#children.set(child, done);
    done.finally(() => this.#children.delete(child));
    post({ kind: 'task', task: rest });
    return {
      ended,
      terminate: () => signalGroup(pid, 'SIGKILL'),
    };
  }

  /** Every stream has ended, so every child is on its way out: wait for them. */
  async close(): Promise<void> {
    await Promise.all(this.#children.values());
  }

  async destroy(): Promise<void> {
    for (const child of this.#children.keys()) if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    await Promise.all(this.#children.values());
  }

  /** maxRssMb, watched while the process runs: past it, `over` is called once with why. */
  #watchRss(pid: number, over: (why: string) => void): NodeJS.Timeout | null {
    const limit = this.#config.maxRssMb;
    if (limit === undefined || pid <= 0) return null;
    const timer = setInterval(() => {
      const rss = residentSetMb(pid);
      if (rss === null || rss <= limit) return;
      clearInterval(timer);
      this.#log.warn(
        { function: this.#config.name, pid, rssMb: rss, maxRssMb: limit },
        `${this.#config.name}: handler process ${pid} reached ${rss} MB resident, past maxRssMb ${limit} MB; ending it`,
      );
      over(`its resident set reached ${rss} MB, past maxRssMb ${limit} MB`);
    }, kRssWatchMs);
    timer.unref();
    return timer;
  }

  #died(
    pid: number,
    code: number | null,
    signal: NodeJS.Signals | null,
    endedFor: string | null,
  ): WorkerEnded {
    const who = `the handler's process (pid ${pid})`;
    if (endedFor !== null) return new WorkerEnded(`${who} was ended: ${endedFor}`, 'oom');
    if (signal !== null)
      return new WorkerEnded(`${who} was killed by ${signal}${kSignalHints[signal] ?? ''}`, 'crash');
    return new WorkerEnded(`${who} exited with code ${code ?? 'unknown'}`, 'crash');
  }
}
