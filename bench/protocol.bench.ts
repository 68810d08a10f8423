/**
 * Micro-benchmark of the binary codec: encode and decode of the frames a busy worker
 * and client handle most (a small SUBMIT_JOB, a small JOB_ASSIGN_UNIQ, a 64 KiB
 * WORK_COMPLETE). Plain performance.now() loops, no dependency: each case is calibrated
 * to about `runMs` per run, then run `runs` times; the report gives the slowest and the
 * median run, because the minimum shows noise from other processes on a shared machine
 * and the median what to expect.
 *
 * Run alone with `npx tsx bench/protocol.bench.ts`, or call runProtocolBench().
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type Magic, PacketType } from '../src/protocol/constants.js';
import { PacketDecoder } from '../src/protocol/decoder.js';
import { encodeRequest, encodeResponse } from '../src/protocol/encoder.js';
import type { Frame } from '../src/protocol/packet.js';

/** One measured case. */
export interface Row {
  /** What was measured, e.g. `decode WORK_COMPLETE 64 KiB (16 KiB chunks)`. */
  readonly name: string;
  /** Operations per second of the slowest run. */
  readonly opsPerSecMin: number;
  /** Operations per second of the median run. */
  readonly opsPerSecMedian: number;
  /** Wire bytes handled per operation, so that MB/s can be derived. */
  readonly bytesPerOp: number;
  /** How many timed runs the figures come from. */
  readonly runs: number;
}

export interface ProtocolBenchOptions {
  /** Timed runs per case. @defaultValue 5 */
  readonly runs?: number;
  /** Target duration of one run, in milliseconds. @defaultValue 200 */
  readonly runMs?: number;
}

interface Case {
  readonly name: string;
  readonly bytesPerOp: number;
  /** Operations one call of `op` performs (a batch of frames counts each frame). */
  readonly opsPerCall: number;
  /** Performs the operation(s); returns a number so the work cannot be optimised away. */
  readonly op: () => number;
}

const kHandle = 'H:worker-host-01:1234567';
const kSmallData = '{"image":"s3://bucket/photos/2026/11/26/img_0042.jpg","width":640}';
const kBigData = Buffer.alloc(64 * 1024, 'r');

/** A decoder fed the same frames over and over; the sink only sums argument sizes. */
function decodeCase(name: string, magic: Magic, chunks: readonly Buffer[], framesPerOp = 1): Case {
  let sum = 0;
  const decoder = new PacketDecoder(
    (frame: Frame) => {
      if (frame.kind === 'packet') for (const arg of frame.packet.args) sum += arg.length;
    },
    { expect: magic },
  );
  const bytes = chunks.reduce((n, chunk) => n + chunk.length, 0);
  return {
    name,
    bytesPerOp: bytes / framesPerOp,
    opsPerCall: framesPerOp,
    op: () => {
      for (const chunk of chunks) decoder.push(chunk);
      return sum;
    },
  };
}

function split(frame: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < frame.length; at += size) chunks.push(frame.subarray(at, at + size));
  return chunks;
}

function cases(): Case[] {
  const submit = encodeRequest(PacketType.SUBMIT_JOB, ['resize', 'img_0042', kSmallData]);
  const assign = encodeResponse(PacketType.JOB_ASSIGN_UNIQ, [kHandle, 'resize', 'img_0042', kSmallData]);
  const complete = encodeRequest(PacketType.WORK_COMPLETE, [kHandle, kBigData]);
  const assignBatch = Buffer.concat(Array.from({ length: 100 }, () => assign));
  return [
    {
      name: 'encode SUBMIT_JOB small',
      bytesPerOp: submit.length,
      opsPerCall: 1,
      op: () => encodeRequest(PacketType.SUBMIT_JOB, ['resize', 'img_0042', kSmallData]).length,
    },
    {
      name: 'encode JOB_ASSIGN_UNIQ small',
      bytesPerOp: assign.length,
      opsPerCall: 1,
      op: () =>
        encodeResponse(PacketType.JOB_ASSIGN_UNIQ, [kHandle, 'resize', 'img_0042', kSmallData]).length,
    },
    {
      name: 'encode WORK_COMPLETE 64 KiB',
      bytesPerOp: complete.length,
      opsPerCall: 1,
      op: () => encodeRequest(PacketType.WORK_COMPLETE, [kHandle, kBigData]).length,
    },
    decodeCase('decode SUBMIT_JOB small', 'REQ', [submit]),
    decodeCase('decode JOB_ASSIGN_UNIQ small', 'RES', [assign]),
    // Per frame: a socket read usually carries many small frames at once.
    decodeCase('decode JOB_ASSIGN_UNIQ small, 100 per chunk (per frame)', 'RES', [assignBatch], 100),
    decodeCase('decode WORK_COMPLETE 64 KiB (one chunk, views)', 'REQ', [complete]),
    // Node's socket reads are 64 KiB at most, so a 64 KiB result arrives in pieces and takes the copy path.
    decodeCase('decode WORK_COMPLETE 64 KiB (16 KiB chunks, one copy)', 'REQ', split(complete, 16 * 1024)),
  ];
}

/** Operations that take about `ms` milliseconds; also serves as the warm-up. */
function calibrate(op: () => number, ms: number): number {
  let iterations = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) op();
    const elapsed = performance.now() - start;
    if (elapsed >= 20) return Math.max(1, Math.round((iterations * ms) / elapsed));
    iterations *= 2;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Yields to the event loop between runs, so timers and GC bookkeeping do not pile into one run. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Measures every case and returns one row each. Takes about
 * `cases × (runs + 1) × runMs` milliseconds (some 10 s with the defaults).
 */
export async function runProtocolBench(options: ProtocolBenchOptions = {}): Promise<Row[]> {
  const runs = options.runs ?? 5;
  const runMs = options.runMs ?? 200;
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`runs must be a positive integer, got ${runs}`);
  if (!(runMs > 0)) throw new RangeError(`runMs must be positive, got ${runMs}`);
  const rows: Row[] = [];
  let sink = 0;
  for (const { name, bytesPerOp, opsPerCall, op } of cases()) {
    const iterations = calibrate(op, runMs);
    const rates: number[] = [];
    for (let run = 0; run < runs; run++) {
      await breathe();
      const start = performance.now();
      for (let i = 0; i < iterations; i++) sink += op();
      rates.push((iterations * 1000) / (performance.now() - start));
    }
    rows.push({
      name,
      opsPerSecMin: Math.min(...rates) * opsPerCall,
      opsPerSecMedian: median(rates) * opsPerCall,
      bytesPerOp,
      runs,
    });
  }
  // Keeps `sink` observable so that no loop body counts as dead code.
  if (sink === -1) console.log(sink);
  return rows;
}

/** The rows as an aligned text table. */
export function formatProtocolBench(rows: readonly Row[]): string {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const table = [
    ['case', 'bytes/op', 'min ops/s', 'median ops/s', 'median MB/s'],
    ...rows.map((row) => [
      row.name,
      fmt(row.bytesPerOp),
      fmt(row.opsPerSecMin),
      fmt(row.opsPerSecMedian),
      ((row.opsPerSecMedian * row.bytesPerOp) / 1e6).toFixed(1),
    ]),
  ];
  const widths = (table[0] as string[]).map((_, col) =>
    Math.max(...table.map((line) => (line[col] ?? '').length)),
  );
  return table
    .map((line) =>
      line
        .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runProtocolBench();
  console.log(`protocol codec, Node ${process.version}, ${rows[0]?.runs ?? 0} runs per case`);
  console.log(formatProtocolBench(rows));
}
