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

/** A job stream served in this thread (the test holds the main side's port); ready when it resolves. */
async function servedStream(
  jobsAtOnce: number,
): Promise<{ main: MessagePort; thread: MessagePort; ended: Promise<StreamEnd> }> {
  const channel = new MessageChannel();
  ports.push(channel.port1, channel.port2);
  const task: StreamTask = {
    kind: 'stream',
    port: channel.port2,
    handler: echo,
    exportName: 'default',
    encoding: 'buffer',
    functionName: 'turns',
    jobsAtOnce,
    prefetch: 0,
    trackModules: false,
  };
  const ended = serveJobStream(task);
  // 'ready' comes once the handler has loaded and the stream listens on its port.
  for (let i = 0; i < 100 && receiveMessageOnPort(channel.port1) === undefined; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return { main: channel.port1, thread: channel.port2, ended };
}

function jobMessage(...ids: number[]): ToThread {
  const writer = new BatchWriter();
  for (const id of ids) writer.addJob(id, `H:turns:${id}`, '', 1, Buffer.from(`hello ${id}`), false);
  return { kind: 'jobs', batch: writer.finish().batch };
}

function resultsIn(message: FromThread | undefined): string[] {
  const results: string[] = [];
  if (message?.kind === 'results') readBatch(message.batch, (id, bytes) => results.push(`${id}:${bytes}`));
  return results;
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
    const { main, thread, ended } = await servedStream(1);
    const seen: Array<FromThread | undefined> = [];
    // Registered after the stream's own listener, so it runs right after it, in the same turn.
    thread.on('message', () => {
      seen.push(receiveMessageOnPort(main)?.message as FromThread | undefined);
    });
    main.postMessage(jobMessage(7));
    for (let i = 0; i < 100 && seen.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(resultsIn(seen[0])).toEqual(['7:hello 7']);
    main.postMessage({ kind: 'close' } satisfies ToThread);
    await expect(ended).resolves.toEqual({ ok: true });
  });

  it('a thread that holds several jobs answers the jobs of messages read together in one message', async () => {
    const { main, ended } = await servedStream(4);
    main.postMessage(jobMessage(1, 2));
    main.postMessage(jobMessage(3));
    const messages: FromThread[] = [];
    for (let i = 0; i < 100 && messages.flatMap(resultsIn).length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      for (let next = receiveMessageOnPort(main); next !== undefined; next = receiveMessageOnPort(main))
        messages.push(next.message as FromThread);
    }
    expect(messages.map(resultsIn)).toEqual([['1:hello 1', '2:hello 2', '3:hello 3']]);
    main.postMessage({ kind: 'close' } satisfies ToThread);
    await expect(ended).resolves.toEqual({ ok: true });
  });
});
