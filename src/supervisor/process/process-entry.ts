import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { serveJobStream } from '../thread/job-stream.js';
import type { FromThread, StreamEnd } from '../thread/messages.js';
import type { FromProcess, ToProcess } from './messages.js';
import { endWithParent } from './parent-watch.js';

/**
 * The program a handler process runs (process/process-host.ts forks it). It serves one
 * job stream with the very code a handler thread runs (thread/job-stream.ts), so the
 * handler API, stray errors and batching are the threads'; only the transport differs.
 * The stream gets a MessagePort whose far end takes what the supervisor sends (so its
 * receiveMessageOnPort, for prefetch, works as in a thread), while what the stream posts
 * goes straight out on the IPC channel: a handler that reports progress and then loops
 * without yielding would otherwise hold it back, since relaying it needs this
 * process's event loop.
 */
function send(message: FromProcess, done?: () => void): void {
  process.send?.(message, undefined, undefined, done);
}

/** Longest wait for the handler's output to reach the supervisor before the process exits. */
const kFlushMs = 1_000;

/**
 * Writes to a pipe are asynchronous here, and process.exit drops what is still queued
 * (1,587 of 5,000 lines arrived without this): an empty write calls back once everything
 * before it has been written.
 */
function flushOutput(): Promise<void> {
  const flushed = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => stream.write('', () => resolve()));
  return Promise.race([
    Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => {}),
    new Promise<void>((resolve) => setTimeout(resolve, kFlushMs).unref()),
  ]);
}

let inbound: MessagePort | null = null;

process.on('message', (message: ToProcess) => {
  if (message.kind !== 'task') {
    inbound?.postMessage(message);
    return;
  }
  const channel = new MessageChannel();
  inbound = channel.port2;
  const port = channel.port1;
  port.postMessage = (out: FromThread) => send(out);
  serveJobStream({ ...message.task, port }).then((end: StreamEnd) => {
    inbound?.close();
    // The process serves one stream: once its end is sent it has nothing left to do,
    // whatever timers a handler left behind.
    send({ kind: 'end', end }, () => flushOutput().then(() => process.exit(0)));
  });
});

// The supervisor went away (killed, say): a handler process never outlives it.
process.on('disconnect', () => process.exit(0));
endWithParent();
