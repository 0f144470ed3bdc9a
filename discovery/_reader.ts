/**
 * A strict reader of the few MessagePack shapes discovery reads straight
 * from a message's bytes (summaries, the peer an entry claims), without
 * building values it does not keep.
 *
 * @module
 */
import { DecodeError } from "@mosaik/transport";

/** A strict reader of a few MessagePack shapes; every method throws {@linkcode DecodeError}. */
export class Reader {
  #bytes: Uint8Array;
  /** Made at the first wide number: reading the peer an entry claims needs none. */
  #dataView: DataView | undefined;
  at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get #view(): DataView {
    const b = this.#bytes;
    return this.#dataView ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  #need(n: number): void {
    if (this.at + n > this.#bytes.length) throw new DecodeError("truncated MessagePack");
  }

  #byte(): number {
    this.#need(1);
    return this.#bytes[this.at++];
  }

  #u(size: 1 | 2 | 4): number {
    this.#need(size);
    const v = size === 1
      ? this.#bytes[this.at]
      : size === 2
      ? this.#view.getUint16(this.at)
      : this.#view.getUint32(this.at);
    this.at += size;
    return v;
  }

  array(what: string, max: number, min = 0): number {
    const b = this.#byte();
    const n = b >= 0x90 && b <= 0x9f
      ? b & 15
      : b === 0xdc
      ? this.#u(2)
      : b === 0xdd
      ? this.#u(4)
      : -1;
    if (n < min || n > max) {
      throw new DecodeError(`${what}: expected an array of ${min}..${max} items`);
    }
    return n;
  }

  /** Skips a string. */
  skipStr(what: string): void {
    const b = this.#byte();
    const n = b >= 0xa0 && b <= 0xbf
      ? b & 31
      : b === 0xd9
      ? this.#u(1)
      : b === 0xda
      ? this.#u(2)
      : b === 0xdb
      ? this.#u(4)
      : -1;
    if (n < 0) throw new DecodeError(`${what}: expected a string`);
    this.#need(n);
    this.at += n;
  }

  bin(what: string): Uint8Array {
    const b = this.#byte();
    const n = b === 0xc4 ? this.#u(1) : b === 0xc5 ? this.#u(2) : b === 0xc6 ? this.#u(4) : -1;
    if (n < 0) throw new DecodeError(`${what}: expected bytes`);
    this.#need(n);
    return this.#bytes.subarray(this.at, this.at += n);
  }

  uint(what: string): number {
    const b = this.#byte();
    let v: number;
    if (b < 0x80) v = b;
    else if (b === 0xcc) v = this.#u(1);
    else if (b === 0xcd) v = this.#u(2);
    else if (b === 0xce) v = this.#u(4);
    else if (b === 0xcf) v = this.#u(4) * 0x1_0000_0000 + this.#u(4);
    else if (b === 0xcb) {
      this.#need(8);
      v = this.#view.getFloat64(this.at);
      this.at += 8;
    } else v = -1;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new DecodeError(`${what}: expected a non-negative integer`);
    }
    return v;
  }

  end(): void {
    if (this.at !== this.#bytes.length) throw new DecodeError("trailing bytes");
  }
}
