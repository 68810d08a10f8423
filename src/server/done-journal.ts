import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

/** Keys one journal holds: 64 Ki ends of jobs in one outage, in a file of 512 KiB. */
export const kJournalSlots = 65_536;

const kMagic = Buffer.from('GWDONE\x00\x01', 'latin1');
const kHeaderBytes = 64;
const kUnrecordedAt = 8;
const kIdentityAt = 16;
const kIdentityBytes = kHeaderBytes - kIdentityAt;
const kSlotBytes = 8;

/**
 * The SQLite store's done journal (`<store>-done`): the keys of stored jobs that ended
 * while the store could not delete their rows (a full disk, a quota, a read-only file
 * system), so that the next start skips them instead of running them again.
 *
 * Its space is written out when the store opens, while the disk has room: recording a
 * key later overwrites bytes the file already owns and needs no free space (true of ext4,
 * xfs and tmpfs; a copy-on-write file system, btrfs or ZFS, may still refuse). A record
 * is a plain write, in the kernel's page cache at once, so it survives a `kill -9`; the
 * store fsyncs it at its next commit attempt when it runs with `synchronous: 'full'`.
 *
 * Layout, little-endian: a 64-byte header (magic, u32 count of ends that could not be
 * recorded, the identity of the database it belongs to), then one u64 key per slot; the
 * first all-zero slot ends the list (keys are row ids, from 1).
 */
export class DoneJournal {
  readonly path: string;
  readonly #fd: number;
  readonly #slots: number;
  readonly #ended = new Set<number>();
  #used = 0;
  #unrecorded = 0;
  readonly #slot = Buffer.alloc(kSlotBytes);

  /**
   * Opens the journal at `path`, or makes it, with room for `slots` keys. A journal of
   * another database (another `identity`, e.g. the store file was replaced) starts empty.
   * Throws the file system's error when the file cannot be made (the disk is already full).
   */
  constructor(path: string, identity: string, slots = kJournalSlots) {
    this.path = path;
    this.#slots = slots;
    const header = Buffer.alloc(kHeaderBytes);
    kMagic.copy(header, 0);
    header.write(identity, kIdentityAt, kIdentityBytes, 'latin1');
    const size = kHeaderBytes + slots * kSlotBytes;
    this.#fd = openOrCreate(path);
    try {
      const existing = Buffer.alloc(Math.min(fstatSync(this.#fd).size, size));
      readSync(this.#fd, existing, 0, existing.length, 0);
      if (
        existing.length >= kHeaderBytes &&
        existing.subarray(0, kHeaderBytes).equals(withCount(header, existing))
      ) {
        this.#unrecorded = existing.readUInt32LE(kUnrecordedAt);
        this.#read(existing);
      }
      if (this.#used === 0 && this.#unrecorded === 0) this.#reset(header, size);
      else if (existing.length < size)
        writeSync(this.#fd, Buffer.alloc(size - existing.length), 0, size - existing.length, existing.length);
      fsyncSync(this.#fd);
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  /** Keys recorded (by the last run, read at open, and by this one), not yet cleared. */
  get ended(): ReadonlySet<number> {
    return this.#ended;
  }

  /** Ends that found the journal full or unwritable: that many replayed jobs may have ended already. */
  get unrecorded(): number {
    return this.#unrecorded;
  }

  /** Anything to clear once the store's deletes commit. */
  get dirty(): boolean {
    return this.#used > 0 || this.#unrecorded > 0;
  }

  /** Records that the job stored under `key` ended; false when it could not (counted instead). */
  record(key: number): boolean {
    if (this.#ended.has(key)) return true;
    if (this.#used < this.#slots) {
      this.#slot.writeBigUInt64LE(BigInt(key), 0);
      try {
        writeSync(this.#fd, this.#slot, 0, kSlotBytes, kHeaderBytes + this.#used * kSlotBytes);
        this.#used++;
        this.#ended.add(key);
        return true;
      } catch {
        // Counted below, as a full journal's are.
      }
    }
    this.#unrecorded++;
    this.#writeUnrecorded();
    return false;
  }

  /** Flushes the records to the disk (fsync); false when that failed. */
  sync(): boolean {
    try {
      fsyncSync(this.#fd);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Forgets every record: the store's deletes committed. The count goes first: a crash
   * between the two writes leaves keys whose rows are gone already, which match nothing.
   */
  clear(): void {
    if (!this.dirty) return;
    this.#unrecorded = 0;
    this.#writeUnrecorded();
    const used = this.#used * kSlotBytes;
    writeSync(this.#fd, Buffer.alloc(used), 0, used, kHeaderBytes);
    this.#used = 0;
    this.#ended.clear();
  }

  close(): void {
    closeSync(this.#fd);
  }

  #read(file: Buffer): void {
    for (let at = kHeaderBytes; at + kSlotBytes <= file.length; at += kSlotBytes) {
      const key = Number(file.readBigUInt64LE(at));
      if (key === 0) break;
      this.#ended.add(key);
      this.#used++;
    }
  }

  #reset(header: Buffer, size: number): void {
    const file = Buffer.alloc(size);
    header.copy(file, 0);
    writeSync(this.#fd, file, 0, size, 0);
  }

  #writeUnrecorded(): void {
    const count = Buffer.alloc(4);
    count.writeUInt32LE(this.#unrecorded, 0);
    try {
      writeSync(this.#fd, count, 0, 4, kUnrecordedAt);
    } catch {
      // Nothing more can be written: the count in memory is all there is.
    }
  }
}

function openOrCreate(path: string): number {
  try {
    return openSync(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return openSync(path, 'w+');
  }
}

/** `header` with the unrecorded count of `file`, to compare the rest of the header. */
function withCount(header: Buffer, file: Buffer): Buffer {
  const copy = Buffer.from(header);
  file.copy(copy, kUnrecordedAt, kUnrecordedAt, kUnrecordedAt + 4);
  return copy;
}
