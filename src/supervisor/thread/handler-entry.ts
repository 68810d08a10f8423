import { BroadcastChannel, threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ownsItsBuffer, resultToBytes } from './bytes.js';
import { ThreadJobContext } from './job-context.js';
import { type HandlerFunction, loadHandler } from './load-handler.js';
import {
  type AbortMessage,
  type CheckResult,
  type CheckTask,
  type ProgressMessage,
  type RunResult,
  type RunTask,
  serializeError,
  type Task,
} from './messages.js';

/**
 * The only module that runs inside handler threads (piscina's worker file). It loads
 * each handler once per thread, runs jobs, and answers `{ ok, result }` or
 * `{ ok: false, error }`; it never lets a handler's throw escape as a task failure, so
 * the main thread can tell a failed job from a dead thread.
 */

const handlers = new Map<string, Promise<HandlerFunction>>();
const channels = new Map<string, BroadcastChannel>();
const running = new Map<number, AbortController>();

function handlerFor(file: string, exportName: string): Promise<HandlerFunction> {
  const key = `${file}#${exportName}`;
  let loaded = handlers.get(key);
  if (loaded === undefined) {
    loaded = loadHandler(file, exportName);
    handlers.set(key, loaded);
  }
  return loaded;
}

function channelFor(name: string): BroadcastChannel {
  let channel = channels.get(name);
  if (channel === undefined) {
    channel = new BroadcastChannel(name);
    channel.onmessage = (event) => {
      const message = (event as { data: AbortMessage }).data;
      running.get(message.abort)?.abort(new Error(message.reason));
    };
    // The channel must not keep an idle thread alive; piscina decides when threads end.
    channel.unref();
    channels.set(name, channel);
  }
  return channel;
}

function decodePayload(task: RunTask): unknown {
  const bytes = Buffer.from(task.payload.buffer, task.payload.byteOffset, task.payload.byteLength);
  if (task.encoding === 'buffer') return bytes;
  const text = bytes.toString('utf8');
  if (task.encoding === 'text') return text;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`the payload is not valid JSON: ${(err as Error).message}`);
  }
}

async function runJob(task: RunTask): Promise<unknown> {
  const controller = new AbortController();
  const channel = channelFor(task.channel);
  if (task.reportThread) {
    const message: ProgressMessage = { taskId: task.taskId, kind: 'thread', threadId };
    channel.postMessage(message);
  }
  const context = new ThreadJobContext(task.taskId, task.job, controller.signal, channel);
  running.set(task.taskId, controller);
  let outcome: RunResult;
  try {
    let handler: HandlerFunction;
    try {
      handler = await handlerFor(task.handler, task.exportName);
    } catch (err) {
      context.end();
      return { ok: false, error: serializeError(err, true), progress: context.posted } satisfies RunResult;
    }
    const result = resultToBytes(await handler(decodePayload(task), context));
    context.end();
    outcome = { ok: true, result, progress: context.posted };
  } catch (err) {
    context.end();
    outcome = { ok: false, error: serializeError(err), progress: context.posted };
  } finally {
    running.delete(task.taskId);
  }
  if (outcome.ok && outcome.result.byteLength > 0 && ownsItsBuffer(outcome.result)) {
    // Hand the result's memory to the main thread instead of copying it. piscina only
    // honours the two symbols on an object marked by move(); unmarked, the object is
    // structured-cloned, which drops symbol keys, and the main thread receives `{}`.
    return move({ [transferableSymbol]: [outcome.result.buffer], [valueSymbol]: outcome });
  }
  return outcome;
}

async function checkHandler(task: CheckTask): Promise<CheckResult> {
  try {
    await handlerFor(task.handler, task.exportName);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: serializeError(err, true) };
  }
}

export default function handlerEntry(task: Task): Promise<unknown> {
  return task.kind === 'run' ? runJob(task) : checkHandler(task);
}
