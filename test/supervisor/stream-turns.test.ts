import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { type StreamHost, type StreamJob, ThreadStream } from '../../src/supervisor/pool/thread-stream.js';
import { BatchWriter, readBatch } from '../../src/supervisor/thread/batch-codec.js';
import { serveJobStream } from '../../src/supervisor/thread/job-stream.js';
import type { FromThread, StreamEnd, StreamTask, ToThread } from '../../src/supervisor/thread/messages.js';

// Issue 13: with the default jobsPerThread 1 a job is alone in its batch both ways, so
// waiting for the end of the event loop's turn to batch it only adds latency to every
// job. A job leaves for its thread as it is sent, and a synchronous handler's result
// leaves the thread while the job's message is handled.

const echo = fileURLToPath(new URL('../fixtures/handlers/echo-sync.js', import.meta.url));
const ports: MessagePort[] = [];
afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

function job(id: number): StreamJob {
  return {
    id,
    handle: `H:turns:${id}`,
    unique: '',
    attempt: 1,
    payload: Buffer.from(`payload ${id}`),
    movable: false,
    sink: { status() {}, data() {}, warning() {} },
    started() {},
    answered() {},
  };
}

/** A host that runs nothing: the test holds the thread's end of the port. */
function portHost(): { host: StreamHost; threadPort: () => MessagePort } {
  let port: MessagePort | null = null;
  const host: StreamHost = {
    run(task) {
      port = task.port;
      ports.push(task.port);
      return { ended: new Promise<StreamEnd>(() => {}), terminate: () => false };
    },
  };
  return { host, threadPort: () => port as MessagePort };
}

const hooks = { room() {}, ended() {}, sinkFailed() {}, stray() {} };

function jobsIn(message: ToThread | undefined): number[] {
  const ids: number[] = [];
  if (message?.kind === 'jobs') readBatch(message.batch, (id) => ids.push(id));
  return ids;
}

describe('a job and its result cross to and from the thread without waiting a turn', () => {
  it('a job sent to a stream it fills is on the port at once', () => {
    const { host, threadPort } = portHost();
    const base = { handler: echo, exportName: 'default', encoding: 'buffer' as const, functionName: 'turns' };
    const stream = new ThreadStream(host, { ...base, jobsAtOnce: 1, prefetch: 0 }, hooks);
    stream.send(job(1));
    expect(jobsIn(receiveMessageOnPort(threadPort())?.message as ToThread)).toEqual([1]);
    stream.close();
  });

  it('jobs sent to a stream with room still leave together, after the turn', async () => {
    const { host, threadPort } = portHost();
    const base = { handler: echo, exportName: 'default', encoding: 'buffer' as const, functionName: 'turns' };
    const stream = new ThreadStream(host, { ...base, jobsAtOnce: 4, prefetch: 0 }, hooks);
    stream.send(job(1));
    stream.send(job(2));
    expect(receiveMessageOnPort(threadPort())).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(jobsIn(receiveMessageOnPort(threadPort())?.message as ToThread)).toEqual([1, 2]);
    stream.close();
  });

  it("a synchronous handler's result is posted while its job's message is handled", async () => {
    const channel = new MessageChannel();
    ports.push(channel.port1, channel.port2);
    const task: StreamTask = {
      kind: 'stream',
      port: channel.port2,
      handler: echo,
      exportName: 'default',
      encoding: 'buffer',
      functionName: 'turns',
      jobsAtOnce: 1,
      prefetch: 0,
      trackModules: false,
    };
    const ended = serveJobStream(task);
    // Served in this thread: the stream listens on port2 once its handler has loaded.
    for (let i = 0; i < 100 && receiveMessageOnPort(channel.port1) === undefined; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const seen: Array<FromThread | undefined> = [];
    // Registered after the stream's own listener, so it runs right after it, in the same turn.
    channel.port2.on('message', () => {
      seen.push(receiveMessageOnPort(channel.port1)?.message as FromThread | undefined);
    });
    const writer = new BatchWriter();
    writer.addJob(7, 'H:turns:7', '', 1, Buffer.from('hello'), false);
    const { batch } = writer.finish();
    channel.port1.postMessage({ kind: 'jobs', batch } satisfies ToThread);
    for (let i = 0; i < 100 && seen.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const results: string[] = [];
    const message = seen[0];
    if (message?.kind === 'results') readBatch(message.batch, (id, bytes) => results.push(`${id}:${bytes}`));
    expect(results).toEqual(['7:hello']);
    channel.port1.postMessage({ kind: 'close' } satisfies ToThread);
    await expect(ended).resolves.toEqual({ ok: true });
  });
});
