import { silentLogger } from '../log.js';
import { PacketType } from '../protocol/constants.js';
import { JobEngine } from './engine.js';
import { JobHandles } from './job-handles.js';
import type { Peer, ReplySlot } from './peer.js';
import { ServerFunctionRegistry } from './registry.js';
import { ServerRequest } from './request.js';
import { MemoryJobStore } from './store.js';
import { SubmitRecord } from './submit-record.js';

/** Submits per function: V8 gives a function its feedback vector after about 8 calls. */
const kRounds = 24;

let primed = false;

/** A client that hears nothing: the scratch engine's replies go nowhere. */
const kNobody: Peer = {
  id: 0,
  exceptions: false,
  running: new Set(),
  waiting: new Set(),
  abilities: [],
  sleeping: false,
  noopSent: false,
  send: () => {},
  sendJobFrame: () => {},
  defer: (): ReplySlot => ({ resolve: () => {} }),
};

/**
 * Runs background submits to two function names, in turn, through a scratch engine, so
 * that the branches a server takes when traffic moves to another function (the miss of
 * the one-entry function caches in the registry and the counters, a new function's empty
 * queues) carry type feedback. V8 records feedback only once a function has run a few
 * times, so those branches, first taken by the very first submit, carry none when the
 * submit path is optimized; the next time a new function name comes, the optimized code
 * of the whole path is thrown away, runs unoptimized for thousands of submits and is
 * compiled again (measured: 0.7 -> 2-3 us of CPU per submit over the next 20,000).
 * This costs well under a millisecond and compiles nothing. Once per process.
 */
export function primeSubmitFeedback(): void {
  if (primed) return;
  primed = true;
  const registry = new ServerFunctionRegistry();
  const engine = new JobEngine({
    registry,
    handles: new JobHandles('H:prime'),
    store: new MemoryJobStore(),
    jobRetries: 0,
    workerWakeup: 0,
    roundRobin: false,
    globalPriority: false,
    maxJobs: 0,
    logger: silentLogger,
  });
  const request = new ServerRequest();
  const submit = new SubmitRecord();
  const nuls = new Int32Array(8);
  // SUBMIT_JOB_BG arguments (function, unique, data) of two functions.
  const packets = ['a\0\0x', 'b\0\0x'].map((text) => Buffer.from(text, 'latin1'));
  nuls[0] = 1;
  nuls[1] = 2;
  for (let i = 0; i < kRounds; i++) {
    const bytes = packets[i % 2] as Buffer;
    request.set('REQ', PacketType.SUBMIT_JOB_BG, bytes, 0, bytes.length, nuls);
    // As the SUBMIT_JOB_BG handler fills a connection's record.
    const record = submit.reset(registry.getOrCreateArg(request, 0));
    record.unique = request.arg(1);
    record.bytes = request.bytes;
    record.dataStart = request.argStart(2);
    record.dataEnd = request.argEnd(2);
    record.background = true;
    engine.submit(kNobody, record);
  }
  engine.shutdown();
}
