import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** What became of one job of the batch. */
export interface JobRecord {
  /** 0-based, in input order. */
  readonly index: number;
  /** The input line number it came from (1-based, blank lines counted). */
  readonly line: number;
  /** The job handle, when the server created the job. */
  readonly handle: string | null;
  readonly ok: boolean;
  /** The WORK_COMPLETE data of a foreground job. */
  readonly result?: Buffer;
  /** Why it failed, on one line. */
  readonly error?: string;
  /** The GearmanError code of the failure, when there is one. */
  readonly code?: string;
}

export interface RecordSinkOptions {
  /** One JSON object per line per job (--results), or null. */
  readonly results: Writable | null;
  /** One handle per line per job (--background), in input order, or null. */
  readonly handles: Writable | null;
  /** Write in input order rather than as jobs finish. */
  readonly ordered: boolean;
  /** Called once per record, after it was written: the batch frees the job's window slot. */
  readonly written: (record: JobRecord) => void;
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON line of a record: a result that is not UTF-8 goes as `resultBase64`. */
export function recordJson(record: JobRecord): string {
  const out: Record<string, unknown> = { line: record.line, handle: record.handle, ok: record.ok };
  if (record.result !== undefined) {
    try {
      out.result = kUtf8.decode(record.result);
    } catch {
      out.resultBase64 = record.result.toString('base64');
    }
  }
  if (record.error !== undefined) out.error = record.error;
  if (record.code !== undefined) out.code = record.code;
  return `${JSON.stringify(out)}\n`;
}

/**
 * Writes job records to the results and handles outputs, either as they come or in input
 * order. In order, a record waits for those before it; since its window slot is freed
 * only once it is written, at most `window` records ever wait.
 */
export class RecordSink {
  readonly #options: RecordSinkOptions;
  readonly #pending = new Map<number, JobRecord>();
  #next = 0;

  constructor(options: RecordSinkOptions) {
    this.#options = options;
  }

  add(record: JobRecord): void {
    if (!this.#options.ordered) {
      this.#write(record);
      return;
    }
    this.#pending.set(record.index, record);
    for (let next = this.#pending.get(this.#next); next !== undefined; next = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      this.#next++;
      this.#write(next);
    }
  }

  /** True while an output is over its high-water mark: the batch waits before starting more jobs. */
  get needDrain(): boolean {
    return this.#outputs().some((out) => out.writableNeedDrain);
  }

  async drained(): Promise<void> {
    for (const out of this.#outputs()) if (out.writableNeedDrain) await once(out, 'drain');
  }

  #write(record: JobRecord): void {
    this.#options.results?.write(recordJson(record));
    // A failed background submit leaves an empty line, so line N is still the Nth job.
    this.#options.handles?.write(`${record.handle ?? ''}\n`);
    this.#options.written(record);
  }

  #outputs(): Writable[] {
    const { results, handles } = this.#options;
    return [results, handles].filter((out): out is Writable => out !== null);
  }
}
