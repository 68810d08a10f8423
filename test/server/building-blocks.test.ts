import { afterEach, describe, expect, it, vi } from 'vitest';
import { splitAdminWords } from '../../src/server/admin-text.js';
import { FunctionEntry } from '../../src/server/function-entry.js';
import { ServerJob } from '../../src/server/job.js';
import { JobHandles } from '../../src/server/job-handles.js';
import { JobQueue } from '../../src/server/job-queue.js';
import { JobTable } from '../../src/server/job-table.js';
import { parseCInteger, toUint32 } from '../../src/server/numbers.js';
import { asciiLower } from '../../src/server/registry.js';
import { ReplyRun } from '../../src/server/reply-arena.js';
import { EpochScheduler } from '../../src/server/scheduler.js';
import { SubmitRecord } from '../../src/server/submit-record.js';
import { uniqueKey } from '../../src/server/unique.js';

const handles = new JobHandles('H:unit');
const fn = new FunctionEntry('f');
let nextId = 1;

function job(when = 0, id = nextId++): ServerJob {
  const submit = new SubmitRecord().reset(fn);
  submit.background = true;
  submit.when = when;
  return new ServerJob(id, handles, submit, null);
}

describe('JobQueue', () => {
  it('is FIFO, takes a requeued job at the front, and drains in order', () => {
    const queue = new JobQueue();
    const [a, b, c] = [job(), job(), job()];
    queue.push(a);
    queue.push(b);
    queue.unshift(c);
    expect(queue.length).toBe(3);
    expect(queue.head).toBe(c);
    expect(queue.shift()).toBe(c);
    expect(queue.drain()).toEqual([a, b]);
    expect(queue.shift()).toBeNull();
    expect(queue.length).toBe(0);
    queue.unshift(a);
    queue.push(b);
    expect(queue.drain()).toEqual([a, b]);
  });
});

describe('EpochScheduler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('releases jobs when due, earliest first and in submission order within a second', () => {
    vi.useFakeTimers({ now: 1_000_000_000_000 });
    const due: ServerJob[] = [];
    const scheduler = new EpochScheduler((j) => due.push(j));
    const now = 1_000_000_000;
    const late = job(now + 20);
    const first = job(now + 10);
    const second = job(now + 10);
    expect(scheduler.isEarly(now + 10)).toBe(true);
    expect(scheduler.isEarly(now)).toBe(false);
    expect(scheduler.isEarly(0)).toBe(false);
    for (const j of [late, first, second]) scheduler.add(j);
    vi.advanceTimersByTime(9_999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([first, second]);
    // An earlier job added later re-arms the timer.
    const sooner = job(now + 15);
    scheduler.add(sooner);
    vi.advanceTimersByTime(5_000);
    expect(due).toEqual([first, second, sooner]);
    expect(scheduler.size).toBe(1);
    expect(scheduler.clear()).toEqual([late]);
    vi.advanceTimersByTime(60_000);
    expect(due).toHaveLength(3);
  });

  it('reaches times beyond the largest setTimeout delay in hops', () => {
    vi.useFakeTimers({ now: 0 });
    const due: ServerJob[] = [];
    const scheduler = new EpochScheduler((j) => due.push(j));
    const far = job(40 * 24 * 3600);
    scheduler.add(far);
    vi.advanceTimersByTime(39 * 24 * 3600 * 1000);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(24 * 3600 * 1000);
    expect(due).toEqual([far]);
  });

  it('keeps order across many random times', () => {
    vi.useFakeTimers({ now: 0 });
    const due: number[] = [];
    const scheduler = new EpochScheduler((j) => due.push(j.when));
    const times = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7919) % 97));
    for (const when of times) scheduler.add(job(when));
    vi.advanceTimersByTime(100_000);
    expect(due).toEqual([...times].sort((a, b) => a - b));
  });
});

describe('job handles', () => {
  it('counts from 1 and reads back only its own handles', () => {
    const own = new JobHandles('H:box');
    const id = own.next(() => false);
    expect(id).toBe(1);
    expect(own.format(id)).toBe('H:box:1');
    expect(own.parse(Buffer.from('H:box:1'))).toBe(1);
    expect(own.parse(Buffer.from('H:box:4294967295'))).toBe(4294967295);
    for (const other of [
      'H:box:',
      'H:box:01',
      'H:box:1x',
      'H:other:1',
      'H:box:4294967296',
      'H:box:12345678901',
      '',
    ]) {
      expect(own.parse(Buffer.from(other)), other).toBe(-1);
    }
    expect(own.parseText('H:box:1')).toBe(1);
  });

  it('writes the same bytes as it formats, from 1 to 2^32 - 1', () => {
    const own = new JobHandles('H:hôte');
    for (const id of [1, 9, 10, 99, 100, 123456, 999999999, 1000000000, 4294967295]) {
      const bytes = Buffer.alloc(2 + own.byteLength(id));
      expect(own.write(id, bytes, 1)).toBe(bytes.length - 1);
      expect(bytes.subarray(1, -1).toString('latin1'), String(id)).toBe(own.format(id));
      expect(bytes[0]).toBe(0);
      expect(bytes.at(-1)).toBe(0);
    }
  });

  it('keeps a UTF-8 prefix as bytes', () => {
    const utf8 = new JobHandles('H:hôte');
    const id = utf8.next(() => false);
    expect(Buffer.from(utf8.format(id), 'latin1').toString('utf8')).toBe('H:hôte:1');
    expect(utf8.parse(Buffer.from('H:hôte:1', 'utf8'))).toBe(1);
  });

  it('refuses a prefix that cannot fit a handle, or has a NUL', () => {
    expect(() => new JobHandles('x'.repeat(52))).toThrow(RangeError);
    expect(() => new JobHandles('a\0b')).toThrow(TypeError);
  });
});

describe('JobTable', () => {
  const find = (table: JobTable, id: number): ServerJob | undefined =>
    table.get(Buffer.from(handles.format(id), 'latin1'));

  it('finds jobs by handle through pages, sparse pages and a wrapped counter, oldest first', () => {
    const table = new JobTable(handles);
    const jobs = Array.from({ length: 20_000 }, (_, i) => job(0, i + 1));
    for (const each of jobs) table.add(each);
    expect(table.size).toBe(20_000);
    // Leave one job in every 1000: the older pages turn sparse, the newest keeps its slots.
    for (const each of jobs) if (each.id % 1000 !== 0) table.delete(each);
    expect(table.size).toBe(20);
    for (const each of jobs) expect(find(table, each.id)).toBe(each.id % 1000 === 0 ? each : undefined);
    expect([...table.values()].map((each) => each.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => (i + 1) * 1000),
    );
    // A counter that wrapped makes numbers whose page is gone again: both kinds stay found.
    const again = job(0, 1);
    table.add(again);
    expect(find(table, 1)).toBe(again);
    expect(find(table, 1000)).toBe(jobs[999]);
    table.delete(jobs[999] as ServerJob);
    expect(find(table, 1000)).toBeUndefined();
    expect(find(table, 1)).toBe(again);
    expect(table.size).toBe(20);
    for (const each of [...table.values()]) table.delete(each);
    expect(table.size).toBe(0);
    expect([...table.values()]).toEqual([]);
    expect(find(table, 4294967295)).toBeUndefined();
  });

  it('does not count a job twice, nor forget a job for another with its number', () => {
    const table = new JobTable(handles);
    const first = job(0, 7);
    table.add(first);
    table.add(first);
    expect(table.size).toBe(1);
    table.delete(job(0, 7));
    expect(find(table, 7)).toBe(first);
    table.delete(first);
    expect(table.size).toBe(0);
  });
});

describe('reply runs in the shared arena', () => {
  it('hand over the replies of each connection in order, even when connections interleave', () => {
    const out = { a: [] as string[], b: [] as string[] };
    const a = new ReplyRun((bytes) => out.a.push(bytes.toString()));
    const b = new ReplyRun((bytes) => out.b.push(bytes.toString()));
    const put = (run: ReplyRun, text: string): void => {
      const at = run.append(text.length);
      run.buffer.write(text, at, 'latin1');
    };
    put(a, 'a1');
    put(a, 'a2');
    put(b, 'b1');
    put(a, 'a3');
    expect(a.pending).toBe(true);
    a.take();
    b.take();
    expect(a.pending).toBe(false);
    a.take();
    expect(out).toEqual({ a: ['a1a2', 'a3'], b: ['b1'] });
    put(b, 'x'.repeat(70_000));
    b.take();
    expect(out.b[1]).toBe('x'.repeat(70_000));
  });
});

describe('unique keys', () => {
  it('never coalesces an empty unique or an empty `-` payload, and keys `-` by the payload', () => {
    expect(uniqueKey(Buffer.alloc(0), Buffer.from('x'))).toBeNull();
    expect(uniqueKey(Buffer.from('-'), Buffer.alloc(0))).toBeNull();
    expect(uniqueKey(Buffer.from('abc'), Buffer.from('x'))).toBe('abc');
    const one = uniqueKey(Buffer.from('-'), Buffer.from('payload'));
    expect(one).toBe(uniqueKey(Buffer.from('-'), Buffer.from('payload')));
    expect(one).not.toBe(uniqueKey(Buffer.from('-'), Buffer.from('payload2')));
    expect(one).not.toBe('-');
  });
});

describe('admin lines and numbers, read as gearmand reads them', () => {
  it('splits words at spaces, skipping runs, keeping empty first and last words', () => {
    expect(splitAdminWords('status')).toEqual(['status']);
    expect(splitAdminWords('show  unique   jobs')).toEqual(['show', 'unique', 'jobs']);
    expect(splitAdminWords(' status')).toEqual(['', 'status']);
    expect(splitAdminWords('status ')).toEqual(['status', '']);
    expect(splitAdminWords('')).toEqual(['']);
    expect(splitAdminWords('a\tb c')).toEqual(['a\tb', 'c']);
  });

  it('folds ASCII letters only', () => {
    expect(asciiLower('ShOw JOBS')).toBe('show jobs');
    expect(asciiLower('ÉTÉ')).toBe('ÉtÉ');
  });

  it('parses integers like strtol: blanks, sign, digits up to the first other byte', () => {
    const parse = (text: string) => parseCInteger(Buffer.from(text, 'latin1'));
    expect(parse('42')).toBe(42);
    expect(parse('  -7x')).toBe(-7);
    expect(parse('+3')).toBe(3);
    expect(parse('abc')).toBe(0);
    expect(parse('')).toBe(0);
    expect(parse('\0\0\x03\xe8')).toBe(0);
    expect(parse('9'.repeat(40))).toBe(Number.MAX_SAFE_INTEGER);
    expect(toUint32(-1)).toBe(4294967295);
    expect(toUint32(5_000_000_000)).toBe(705032704);
  });
});
