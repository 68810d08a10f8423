import { parentPort, threadId } from 'node:worker_threads';
import type { OutputDropReport } from './messages.js';

/**
 * Most bytes of a handler thread's stdout, and as many of its stderr, that may wait to
 * be written. A thread's process.stdout/stderr are streams to the main thread, which
 * asks for more only once it has written what it got; a handler that writes in a loop
 * without yielding never lets it ask, so everything it writes is held (300 MiB written
 * to stderr grew the supervisor's RSS from 148 to 896 MB, issue 10 item 6). Past the
 * cap, writes are dropped and counted. Per thread and stream: 1 MiB holds a burst of
 * log lines; 100 threads hold at most 200 MiB.
 */
export const kThreadOutputCapBytes = 1024 * 1024;
/** A backlog that never drains (a handler that writes for ever) is reported this often. */
const kReportEveryMs = 5_000;

type Stream = NodeJS.WriteStream & { write: (...args: unknown[]) => boolean };

/** Caps this thread's process.stdout and process.stderr (console.* writes to them). */
export function capThreadOutput(capBytes = kThreadOutputCapBytes): void {
  capStream(process.stdout as Stream, 'stdout', capBytes);
  capStream(process.stderr as Stream, 'stderr', capBytes);
}

function capStream(stream: Stream, name: OutputDropReport['stream'], capBytes: number): void {
  const write = stream.write.bind(stream);
  let bytes = 0;
  let writes = 0;
  let timer: NodeJS.Timeout | null = null;
  const report = (): void => {
    if (writes > 0) {
      const message: OutputDropReport = {
        kind: 'gworker:output-dropped',
        threadId,
        stream: name,
        bytes,
        writes,
      };
      parentPort?.postMessage(message);
    }
    bytes = 0;
    writes = 0;
  };
  const endEpisode = (): void => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    report();
  };
  stream.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const size = byteLength(chunk, encoding);
    if (stream.writableLength + size <= capBytes) return write(chunk, encoding, callback);
    if (timer === null) {
      timer = setInterval(report, kReportEveryMs);
      timer.unref();
      // The backlog drains once the main thread has written it: the episode ends there.
      // A single write over the cap leaves no backlog: it ends after this turn.
      if (stream.writableNeedDrain) stream.once('drain', endEpisode);
      else setImmediate(endEpisode);
    }
    bytes += size;
    writes++;
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return false;
  };
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return (chunk as ArrayBufferView).byteLength ?? 0;
}
