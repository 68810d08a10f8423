import { FunctionEntry } from './function-entry.js';
import { JobPriority } from './job.js';

const kEmpty = Buffer.alloc(0);
/** What a record names before its first reset(): never submitted to. */
const kNoFunction = new FunctionEntry('');

/**
 * What one SUBMIT_* asks for, in named fields. Each connection has one (Session, as it
 * has one ServerRequest), the HTTP gateway one and the engine one for the store's replay:
 * reset() and filled for every submit, so the pipelined-submit path makes no record, no
 * argument object and no view per job. The payload is `bytes[dataStart, dataEnd)`, read
 * in place from the received chunk. Valid during the submit call only: the job copies
 * the fields it keeps, never the record.
 */
export class SubmitRecord {
  fn: FunctionEntry = kNoFunction;
  /** The unique id as sent (empty for none, `-` for "the payload is the unique"). */
  unique: Buffer = kEmpty;
  bytes: Buffer = kEmpty;
  dataStart = 0;
  dataEnd = 0;
  /** Reducer function name for SUBMIT_REDUCE_JOB*, empty otherwise. */
  reducer: Buffer = kEmpty;
  priority: JobPriority = JobPriority.NORMAL;
  background = false;
  /** Epoch seconds (SUBMIT_JOB_EPOCH), 0 for none. */
  when = 0;

  /**
   * Starts the next submit, to `fn`: every other field back to its default (no unique, no
   * payload, no reducer, NORMAL, foreground, now), so that nothing of the last one stays.
   */
  reset(fn: FunctionEntry): this {
    this.fn = fn;
    this.unique = kEmpty;
    this.bytes = kEmpty;
    this.dataStart = 0;
    this.dataEnd = 0;
    this.reducer = kEmpty;
    this.priority = JobPriority.NORMAL;
    this.background = false;
    this.when = 0;
    return this;
  }

  /** The payload is all of `data`. */
  setData(data: Buffer): void {
    this.bytes = data;
    this.dataStart = 0;
    this.dataEnd = data.length;
  }
}
