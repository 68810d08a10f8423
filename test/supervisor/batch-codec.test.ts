import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  BatchWriter,
  kPackedStringBytes,
  kPackedStringEntries,
  readBatch,
  type WireBatch,
} from '../../src/supervisor/thread/batch-codec.js';
import { kOwnBufferBytes } from '../../src/supervisor/thread/bytes.js';

// The wire form of job and result batches between the main thread and a handler
// thread (issue 13): what goes in comes out, byte for byte and in order, whichever way
// the bytes travel; and a batch of small jobs moves no ArrayBuffer (each transfer costs
// more than copying a few bytes).

interface Entry {
  id: number;
  bytes: Buffer | null;
  error: string | null;
  handle: string;
  unique: string;
  attempt: number;
}

/** Posts the batch over a real MessagePort (structured clone and transfer) and reads it back. */
function roundTrip(batch: WireBatch, transfer: ArrayBuffer[]): Entry[] {
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(batch, transfer);
    const received = receiveMessageOnPort(port2)?.message as WireBatch;
    const entries: Entry[] = [];
    readBatch(received, (id, bytes, error, handle, unique, attempt) => {
      entries.push({
        id,
        bytes: bytes === null ? null : Buffer.from(bytes),
        error: error?.message ?? null,
        handle,
        unique,
        attempt,
      });
    });
    return entries;
  } finally {
    port1.close();
    port2.close();
  }
}

function bytesOf(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

describe('job and result batches', () => {
  it('a batch of small jobs transfers no buffer and arrives byte for byte, all 256 byte values included', () => {
    const writer = new BatchWriter();
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    writer.addJob(1, 'H:box:1', 'u-1', 1, Buffer.from('drain-payload-16'), true);
    writer.addJob(2, 'H:box:2', 'ünïcode ✓', 3, every, true);
    writer.addJob(3, 'H:box:3', '', 1, Buffer.alloc(0), true);
    const { batch, transfer } = writer.finish();
    expect(transfer).toEqual([]);
    const entries = roundTrip(batch, transfer);
    expect(entries.map((e) => [e.id, e.handle, e.unique, e.attempt])).toEqual([
      [1, 'H:box:1', 'u-1', 1],
      [2, 'H:box:2', 'ünïcode ✓', 3],
      [3, 'H:box:3', '', 1],
    ]);
    expect(entries[0]?.bytes?.toString()).toBe('drain-payload-16');
    expect(entries[1]?.bytes?.equals(every)).toBe(true);
    expect(entries[2]?.bytes?.byteLength).toBe(0);
  });

  it('past the string limit the packed bytes move in one buffer, and large ones in their own', () => {
    const writer = new BatchWriter();
    const sizes = [kPackedStringBytes - 10, 100, kOwnBufferBytes, 7];
    sizes.forEach((size, i) => {
      writer.add(i + 1, bytesOf(size, i), true);
    });
    const { batch, transfer } = writer.finish();
    // One own buffer (the 64 KiB entry) and the packed one.
    expect(transfer).toHaveLength(2);
    const entries = roundTrip(batch, transfer);
    expect(entries.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    sizes.forEach((size, i) => {
      expect(entries[i]?.bytes?.equals(bytesOf(size, i))).toBe(true);
    });
  });

  it('a batch of many small entries moves them in one buffer, in order', () => {
    const writer = new BatchWriter();
    const count = kPackedStringEntries + 1;
    for (let i = 0; i < count; i++) writer.addJob(i, `H:box:${i}`, `u${i}`, 1, bytesOf(16, i), true);
    const { batch, transfer } = writer.finish();
    expect(transfer).toHaveLength(1);
    const entries = roundTrip(batch, transfer);
    expect(entries.map((e) => e.unique)).toEqual(Array.from({ length: count }, (_, i) => `u${i}`));
    entries.forEach((entry, i) => {
      expect(entry.bytes?.equals(bytesOf(16, i))).toBe(true);
    });
  });

  it('failed results keep their place among the others', () => {
    const writer = new BatchWriter();
    writer.add(1, Buffer.from('one'), true);
    writer.addError(2, { name: 'Error', message: 'boom' });
    writer.add(3, Buffer.from('three'), true);
    const { batch, transfer } = writer.finish();
    const entries = roundTrip(batch, transfer);
    expect(entries.map((e) => [e.id, e.bytes?.toString() ?? null, e.error])).toEqual([
      [1, 'one', null],
      [2, null, 'boom'],
      [3, 'three', null],
    ]);
  });
});
