import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineReader, LineTooLongError } from '../../../src/cli/batch/line-reader.js';

async function read(
  chunks: readonly Buffer[],
  keepEmpty = false,
  maxLineBytes = 1024,
): Promise<Array<[number, string]>> {
  const reader = new LineReader(Readable.from(chunks, { objectMode: false }), { keepEmpty, maxLineBytes });
  const out: Array<[number, string]> = [];
  for await (const line of reader) out.push([line.number, line.payload.toString('latin1')]);
  return out;
}

/** A fixed-seed generator, so a failing split can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('LineReader', () => {
  const text = 'first\r\nsecond\n\n\u00e9t\u00e9\nlast without newline';
  const bytes = Buffer.from(text, 'utf8');
  const expected: Array<[number, string]> = [
    [1, 'first'],
    [2, 'second'],
    [4, Buffer.from('\u00e9t\u00e9', 'utf8').toString('latin1')],
    [5, 'last without newline'],
  ];

  it('gives the same lines whole, byte by byte, and in random splits', async () => {
    expect(await read([bytes])).toEqual(expected);
    expect(await read([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
    const next = random(42);
    for (let round = 0; round < 50; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(next() * 8);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      expect(await read(chunks)).toEqual(expected);
    }
  });

  it('yields blank lines with keepEmpty, and no line after a final newline', async () => {
    expect(await read([Buffer.from('a\n\n\r\nb\n')], true)).toEqual([
      [1, 'a'],
      [2, ''],
      [3, ''],
      [4, 'b'],
    ]);
  });

  it('throws LineTooLongError for a line over the limit, whole or spanning chunks', async () => {
    await expect(read([Buffer.from(`ok\n${'x'.repeat(20)}\n`)], false, 10)).rejects.toBeInstanceOf(
      LineTooLongError,
    );
    await expect(read([Buffer.from('ok\nxxxxxx'), Buffer.from('xxxxxx')], false, 10)).rejects.toMatchObject({
      line: 2,
    });
  });

  it('counts the bytes of the lines read', async () => {
    const reader = new LineReader(Readable.from([Buffer.from('ab\ncd\n')]), { maxLineBytes: 100 });
    const positions: number[] = [];
    for await (const _ of reader) positions.push(reader.position);
    expect(positions).toEqual([3, 6]);
  });
});
