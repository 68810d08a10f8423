import { ARG_COUNT, type Magic, type PacketType } from '../protocol/constants.js';

const kEmpty = Buffer.alloc(0);

/**
 * The binary packet being handled, read in place from the decoder's bytes: an argument
 * becomes a Buffer (a view) only when a handler asks for one. One ServerRequest per connection
 * is refilled for every packet, so a pipelined submit costs no packet object, argument
 * array or views beyond the ones the job keeps. Valid during the handler's call only:
 * keep what `arg()` returns, never the ServerRequest.
 */
export class ServerRequest {
  magic: Magic = 'REQ';
  type: PacketType = 0 as PacketType;
  #bytes: Buffer = kEmpty;
  #start = 0;
  #end = 0;
  /** The decoder's NUL positions: nuls[i] ends argument i, for all but the last. */
  #nuls: Int32Array = new Int32Array(0);
  #count = 0;

  /** Points this request at a packet (see RawPacketSink). */
  set(magic: Magic, type: PacketType, bytes: Buffer, start: number, end: number, nuls: Int32Array): void {
    this.magic = magic;
    this.type = type;
    this.#count = ARG_COUNT[type];
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
    this.#nuls = nuls;
  }

  /** The bytes the packet lies in (with others around it): see argStart() and argEnd(). */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** Where argument `index` starts in `bytes`. */
  argStart(index: number): number {
    return this.#from(index);
  }

  /** Where argument `index` ends in `bytes` (exclusive). */
  argEnd(index: number): number {
    return this.#to(index);
  }

  #from(index: number): number {
    return index === 0 ? this.#start : (this.#nuls[index - 1] as number) + 1;
  }

  /** Where argument `index` ends (exclusive). */
  #to(index: number): number {
    return index === this.#count - 1 ? this.#end : (this.#nuls[index] as number);
  }

  /** Argument `index` as a view of the received bytes (the packet type's full count is always there). */
  arg(index: number): Buffer {
    const from = this.#from(index);
    const to = this.#to(index);
    return from === to ? kEmpty : this.#bytes.subarray(from, to);
  }

  argLength(index: number): number {
    return this.#to(index) - this.#from(index);
  }

  /** Argument `index` as a latin1 string of its bytes, without a view in between. */
  argLatin1(index: number): string {
    const from = this.#from(index);
    const to = this.#to(index);
    return from === to ? '' : this.#bytes.toString('latin1', from, to);
  }

  /** True when argument `index` holds exactly these bytes. */
  argEquals(index: number, bytes: Uint8Array): boolean {
    const from = this.#from(index);
    if (this.#to(index) - from !== bytes.length) return false;
    const own = this.#bytes;
    // A byte loop: names are short, and Buffer.equals/compare cost a native call each.
    for (let i = 0; i < bytes.length; i++) if (own[from + i] !== bytes[i]) return false;
    return true;
  }
}
