/**
 * Strict bencode (BEP 3) as used by KRPC and BEP 44.
 *
 * The decoder accepts only the canonical encoding: no trailing bytes, no
 * leading zeros or `-0` in integers and lengths, dictionary keys strictly
 * increasing as raw byte strings (so no duplicates), bounded nesting and
 * bounded input size. Anything else throws a {@linkcode BencodeError}.
 *
 * @module
 */
import { DecodeError, fromLatin1, latin1 } from "@mosaik/transport";

/**
 * A bencoded value. Byte strings decode to `Uint8Array`; integers to
 * `number` when they are safe integers, else `bigint`; dictionaries to
 * null-prototype objects whose keys are the raw key bytes as latin1 text.
 */
export type BValue = Uint8Array | number | bigint | BValue[] | BDict;
/** A bencoded dictionary: keys are raw bytes as latin1 text. */
export interface BDict {
  /** A member; the key is the raw key bytes as latin1 text. */
  [key: string]: BValue;
}
/** What {@linkcode encode} accepts: a {@linkcode BValue}, plus text (UTF-8) and `undefined` dictionary members (skipped). */
export type BInput =
  | Uint8Array
  | number
  | bigint
  | string
  | readonly BInput[]
  | { readonly [key: string]: BInput | undefined };

/** Malformed, non-canonical or oversized bencode. `offset` is where decoding stopped. */
export class BencodeError extends DecodeError {
  /** Creates the error for a problem at byte `offset`. */
  constructor(message: string, readonly offset: number) {
    super(`bencode: ${message} at byte ${offset}`);
  }
}

/** Limits for {@linkcode decode}. */
export interface DecodeOptions {
  /** Maximum input length in bytes. Default 65 536 (a UDP datagram). */
  maxSize?: number;
  /** Maximum nesting of lists and dictionaries. Default 32. */
  maxDepth?: number;
}

const encoder = new TextEncoder();

class Writer {
  #buf = new Uint8Array(256);
  #len = 0;
  #grow(n: number) {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  ascii(s: string) {
    this.#grow(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#len++] = s.charCodeAt(i);
  }
  bytes(b: Uint8Array) {
    this.ascii(`${b.length}:`);
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function write(w: Writer, v: BInput, depth: number): void {
  if (depth > 64) throw new TypeError("bencode: value nested too deeply");
  if (v instanceof Uint8Array) return w.bytes(v);
  if (typeof v === "string") return w.bytes(encoder.encode(v));
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new TypeError(`bencode: ${v} is not a safe integer`);
    return w.ascii(`i${v}e`);
  }
  if (typeof v === "bigint") return w.ascii(`i${v}e`);
  if (Array.isArray(v)) {
    w.ascii("l");
    for (const item of v) write(w, item, depth + 1);
    return w.ascii("e");
  }
  if (typeof v === "object" && v !== null) {
    const obj = v as { readonly [key: string]: BInput | undefined };
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareKeys);
    w.ascii("d");
    for (const k of keys) {
      w.bytes(fromLatin1(k));
      write(w, obj[k]!, depth + 1);
    }
    return w.ascii("e");
  }
  throw new TypeError(`bencode: cannot encode ${typeof v}`);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Encodes a value canonically (dictionary keys sorted as raw bytes).
 *
 * @example
 * ```ts
 * import { encodeBencode } from "@mosaik/discovery/dht";
 * const bytes = encodeBencode({ t: "aa", y: "q", q: "ping", a: { id: new Uint8Array(20) } });
 * console.assert(new TextDecoder().decode(bytes.subarray(0, 3)) === "d1:");
 * ```
 */
export function encodeBencode(value: BInput): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.done();
}

const ZERO = 0x30, NINE = 0x39, COLON = 0x3a, MINUS = 0x2d;
const I = 0x69, L = 0x6c, D = 0x64, E = 0x65;

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly maxDepth: number) {}

  fail(message: string): never {
    throw new BencodeError(message, this.pos);
  }

  /** Reads canonical decimal digits up to `end`, returns the text. */
  digits(end: number, allowMinus: boolean): string {
    const start = this.pos;
    let i = start;
    const buf = this.buf;
    if (allowMinus && buf[i] === MINUS) i++;
    const first = i;
    while (i < buf.length && buf[i] >= ZERO && buf[i] <= NINE) i++;
    if (i === first) this.fail("expected digits");
    if (i >= buf.length || buf[i] !== end) {
      this.pos = i;
      this.fail(`expected '${String.fromCharCode(end)}'`);
    }
    if (i - first > 1 && buf[first] === ZERO) this.fail("leading zero");
    if (first !== start && buf[first] === ZERO) this.fail("negative zero");
    if (i - first > 20) this.fail("number too long");
    const text = latin1(buf.subarray(start, i));
    this.pos = i + 1;
    return text;
  }

  bytes(): Uint8Array {
    const len = Number(this.digits(COLON, false));
    if (len > this.buf.length - this.pos) this.fail("string runs past the end");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  value(depth: number): BValue {
    const c = this.buf[this.pos];
    if (c === undefined) this.fail("unexpected end");
    if (c >= ZERO && c <= NINE) return this.bytes();
    if (depth >= this.maxDepth) this.fail("nested too deeply");
    if (c === I) {
      this.pos++;
      const text = this.digits(E, true);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    if (c === L) {
      this.pos++;
      const list: BValue[] = [];
      while (this.buf[this.pos] !== E) {
        if (this.pos >= this.buf.length) this.fail("unterminated list");
        list.push(this.value(depth + 1));
      }
      this.pos++;
      return list;
    }
    if (c === D) {
      this.pos++;
      const dict: BDict = Object.create(null);
      let last: string | undefined;
      while (this.buf[this.pos] !== E) {
        if (this.pos >= this.buf.length) this.fail("unterminated dictionary");
        const c2 = this.buf[this.pos];
        if (c2 < ZERO || c2 > NINE) this.fail("dictionary key is not a string");
        const key = latin1(this.bytes());
        if (last !== undefined && key <= last) {
          this.fail(key === last ? "duplicate key" : "unsorted keys");
        }
        last = key;
        dict[key] = this.value(depth + 1);
      }
      this.pos++;
      return dict;
    }
    this.fail(`unexpected byte 0x${c.toString(16)}`);
  }
}

/**
 * Decodes exactly one canonical bencoded value; throws {@linkcode BencodeError}
 * on anything else (trailing bytes included).
 *
 * @example
 * ```ts
 * import { decodeBencode } from "@mosaik/discovery/dht";
 * const v = decodeBencode(new TextEncoder().encode("d3:bari7e3:foo3:bare"));
 * ```
 */
export function decodeBencode(bytes: Uint8Array, options: DecodeOptions = {}): BValue {
  const maxSize = options.maxSize ?? 65_536;
  if (bytes.length > maxSize) {
    throw new BencodeError(`input of ${bytes.length} bytes exceeds ${maxSize}`, 0);
  }
  const r = new Reader(bytes, options.maxDepth ?? 32);
  const v = r.value(0);
  if (r.pos !== bytes.length) r.fail("trailing bytes");
  return v;
}

/** True when `v` is a decoded dictionary (not a list or byte string). */
export function isDict(v: unknown): v is BDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
