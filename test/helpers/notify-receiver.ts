import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopProcess } from './peers.js';

const script = fileURLToPath(new URL('../fixtures/notify-receiver.py', import.meta.url));

/** One datagram as test/fixtures/notify-receiver.py saw it. */
export interface NotifyDatagram {
  readonly message: string;
  /** The sender's PID in the datagram's credentials. */
  readonly pid: number | null;
  /** CLOCK_MONOTONIC at receipt, in microseconds. */
  readonly monotonicUsec: number;
  /** Wall clock at receipt, in seconds. */
  readonly at: number;
}

export interface NotifyReceiver {
  /** The socket's path: what $NOTIFY_SOCKET names. */
  readonly path: string;
  /** Every datagram so far, BARRIER=1 (systemd-notify's own) left out. */
  readonly datagrams: NotifyDatagram[];
  /** Resolves with the first datagram (past or future) that matches. */
  waitFor(match: (d: NotifyDatagram) => boolean, timeoutMs?: number): Promise<NotifyDatagram>;
  close(): Promise<void>;
}

/** Starts a real AF_UNIX datagram socket at `path` (python3 binds it), like systemd's. */
export async function startNotifyReceiver(path: string): Promise<NotifyReceiver> {
  const child = spawnTracked('python3', [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const datagrams: NotifyDatagram[] = [];
  const waiters = new Set<() => void>();
  const listening = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`notify-receiver.py exited ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const parsed = JSON.parse(line) as NotifyDatagram | { listening: string };
      if ('listening' in parsed) resolve();
      else if (parsed.message !== 'BARRIER=1') {
        datagrams.push(parsed);
        for (const wake of [...waiters]) wake();
      }
    });
  });
  await listening;
  return {
    path,
    datagrams,
    waitFor(match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = datagrams.find(match);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching datagram in ${timeoutMs} ms; got ${JSON.stringify(datagrams.map((d) => d.message))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => stopProcess(child, 'SIGTERM'),
  };
}
