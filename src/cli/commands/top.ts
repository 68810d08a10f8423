import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusDocument } from '../../supervisor/control/status-document.js';
import { defineCommand } from '../args/define-command.js';
import {
  ControlClient,
  kControlAddressOptions,
  kControlSynopsis,
  resolveControlTarget,
} from '../control-client.js';
import type { CliIo } from '../io.js';
import { renderStatus } from './status.js';

// Alternate screen, hidden cursor; home and clear-to-end redraw without flicker.
const kEnter = '\x1b[?1049h\x1b[?25l';
const kLeave = '\x1b[?25h\x1b[?1049l';
const kHome = '\x1b[H';
const kClearLineEnd = '\x1b[K';
const kClearBelow = '\x1b[J';

export const topCommand = defineCommand({
  name: 'top',
  synopsis: `[--interval DURATION] [-n N] ${kControlSynopsis}`,
  description: `Shows what gworker status shows, redrawn every second until you press q or Ctrl-C. When
the supervisor stops answering, the last error is shown and top keeps trying. It keeps
to the terminal's width: on 80 columns, each function's state, busy slots over
concurrency, queued jobs, jobs done, failed/excepted, jobs/s and p95; on a wide terminal,
every column.`,
  options: {
    interval: { type: 'duration', default: 1000, help: 'time between refreshes' },
    iterations: {
      type: 'integer',
      short: 'n',
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      help: 'stop after N refreshes',
    },
    ...kControlAddressOptions,
    timeout: {
      type: 'duration',
      help: 'give up on a request after this long (default the longer of 2s and --interval)',
    },
  },
  footer: `Exit status: 0 after q, Ctrl-C or N refreshes; 1 when the first request fails; 2 on a
usage error.`,
  async run({ values }, io) {
    const intervalMs = values.interval;
    const iterations = values.iterations ?? Number.POSITIVE_INFINITY;
    const client = new ControlClient(await resolveControlTarget(values, io), {
      timeoutMs: values.timeout ?? Math.max(2000, intervalMs),
    });
    // A wrong address or token is a mistake to report, not something to retry on screen.
    let status: StatusDocument | Error = await client.get<StatusDocument>('/api/status');
    const screen = new Screen(io);
    let quitting = false;
    const quit = screen.quitSignal().then(() => {
      quitting = true;
    });
    try {
      for (let n = 1; ; n++) {
        screen.draw(frame(client.where, status, screen.width));
        if (n >= iterations) break;
        await Promise.race([sleep(intervalMs), quit]);
        if (quitting) break;
        status = await client.get<StatusDocument>('/api/status').catch((err: Error) => err);
        if (quitting) break;
      }
    } finally {
      screen.restore();
    }
    return 0;
  },
});

/** One screen: a head line, then the status tables kept to `width` columns when there is one. */
export function frame(where: string, status: StatusDocument | Error, width?: number): string {
  const time = new Date().toTimeString().slice(0, 8);
  const head = `gworker top — ${where} — ${time} — q to quit\n`;
  if (status instanceof Error) return `${head}\n${status.message}\n`;
  return `${head}${renderStatus(status, width === undefined ? {} : { width })}`;
}

/** The terminal: redraws in place on a TTY, prints frames one after another otherwise. */
class Screen {
  readonly #io: CliIo;
  readonly #tty: boolean;
  readonly #cleanup: Array<() => void> = [];

  constructor(io: CliIo) {
    this.#io = io;
    this.#tty = io.stdout.isTTY === true;
    if (this.#tty) io.stdout.write(kEnter);
  }

  /** The terminal's width, read at each frame (it follows a resize); undefined in a pipe. */
  get width(): number | undefined {
    const columns = (this.#io.stdout as { columns?: number }).columns;
    return this.#tty && typeof columns === 'number' && columns > 0 ? columns : undefined;
  }

  draw(text: string): void {
    if (!this.#tty) {
      this.#io.stdout.write(`${text}\n`);
      return;
    }
    const lines = text.replace(/\n$/, '').split('\n');
    this.#io.stdout.write(
      `${kHome}${lines.map((line) => `${line}${kClearLineEnd}`).join('\n')}\n${kClearBelow}`,
    );
  }

  /** Resolves on q, Q, Ctrl-C typed (raw mode) or SIGINT. */
  quitSignal(): Promise<void> {
    return new Promise((resolve) => {
      const stdin = this.#io.stdin as NodeJS.ReadStream;
      const onData = (chunk: Buffer | string) => {
        if (/[qQ\x03]/.test(chunk.toString())) resolve();
      };
      const onSigint = () => resolve();
      if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
        stdin.setRawMode(true);
        this.#cleanup.push(() => stdin.setRawMode(false));
      }
      stdin.on('data', onData);
      stdin.resume();
      process.on('SIGINT', onSigint);
      this.#cleanup.push(() => {
        stdin.off('data', onData);
        stdin.pause();
        process.off('SIGINT', onSigint);
      });
    });
  }

  restore(): void {
    for (const undo of this.#cleanup.splice(0)) undo();
    if (this.#tty) this.#io.stdout.write(kLeave);
  }
}
