// A small strict DER reader, enough for X.509 certificates and CRLs with
// ECDSA P-256 keys.
//
// Why not a library: the well-kept JS ASN.1 stacks (@peculiar/asn1-*, pkijs,
// asn1.js, node-forge) are CommonJS/npm packages with several transitive
// dependencies (pvtsutils, tslib, bn.js, ...), are lenient by design (BER
// indefinite lengths, non-minimal encodings), and are far slower than needed
// for verifying thousands of quotes per second. There is no JSR package that
// parses X.509 offline without WebCrypto-unsupported extras. Intel's PCK chain
// only needs a handful of universal types, so ~150 lines of strict DER are the
// smaller trusted base.
import { DerError } from "./errors.ts";

/** Universal tags used here. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One DER element: `tag`, header start, content `[start, end)`. */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  at: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

/** Reads one element at `at`, inside `[at, limit)`. */
export function readTlv(buf: Uint8Array, at: number, limit: number = buf.length): Tlv {
  if (at + 2 > limit) throw new DerError("truncated DER element", at);
  const tag = buf[at];
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported", at);
  let len = buf[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError("indefinite length is not DER", at + 1);
    if (n > 3) throw new DerError("length too large", at + 1);
    if (start + n > limit) throw new DerError("truncated DER length", at + 1);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i];
    if (buf[start] === 0 || len < 0x80) throw new DerError("non-minimal DER length", at + 1);
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError("DER element exceeds its container", at);
  return { tag, at, start, end };
}

/** Reads one element and requires its tag. */
export function expect(buf: Uint8Array, at: number, limit: number, tag: number): Tlv {
  const tlv = readTlv(buf, at, limit);
  if (tlv.tag !== tag) {
    throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`, at);
  }
  return tlv;
}

/** Reads all children of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = parent.start;
  while (at < parent.end) {
    const tlv = readTlv(buf, at, parent.end);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

// Decoded OIDs by their content bytes: certificates repeat a handful of OIDs.
const oidCache = new Map<string, string>();

/** Decodes an OBJECT IDENTIFIER to dotted text. */
export function oid(buf: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== Tag.OID) throw new DerError("expected OBJECT IDENTIFIER", tlv.at);
  if (tlv.end === tlv.start) throw new DerError("empty OBJECT IDENTIFIER", tlv.at);
  let key = "";
  for (let i = tlv.start; i < tlv.end; i++) key += String.fromCharCode(buf[i]);
  const known = oidCache.get(key);
  if (known !== undefined) return known;
  const parts: number[] = [];
  let value = 0;
  let first = true;
  for (let i = tlv.start; i < tlv.end; i++) {
    const b = buf[i];
    if (value === 0 && b === 0x80) throw new DerError("non-minimal OID arc", i);
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large", i);
    if (!(b & 0x80)) {
      if (first) {
        const x = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(x, value - x * 40);
        first = false;
      } else parts.push(value);
      value = 0;
    } else if (i === tlv.end - 1) throw new DerError("truncated OID arc", i);
  }
  const text = parts.join(".");
  if (oidCache.size >= 4096) oidCache.clear();
  oidCache.set(key, text);
  return text;
}

/** Returns the content bytes of an INTEGER with sign/leading-zero checks (big-endian, unsigned). */
export function unsignedInteger(buf: Uint8Array, tlv: Tlv, tag: number = Tag.INTEGER): Uint8Array {
  if (tlv.tag !== tag) throw new DerError("expected INTEGER", tlv.at);
  const len = tlv.end - tlv.start;
  if (len === 0) throw new DerError("empty INTEGER", tlv.at);
  const b0 = buf[tlv.start];
  if (b0 & 0x80) throw new DerError("negative INTEGER", tlv.start);
  if (len > 1 && b0 === 0 && !(buf[tlv.start + 1] & 0x80)) {
    throw new DerError("non-minimal INTEGER", tlv.start);
  }
  return b0 === 0 && len > 1
    ? buf.subarray(tlv.start + 1, tlv.end)
    : buf.subarray(tlv.start, tlv.end);
}

/** Decodes a small non-negative INTEGER (or ENUMERATED) that must be `<= max`. */
export function smallInteger(
  buf: Uint8Array,
  tlv: Tlv,
  max: number,
  tag: number = Tag.INTEGER,
): number {
  const bytes = unsignedInteger(buf, tlv, tag);
  if (bytes.length > 4) throw new DerError("INTEGER out of range", tlv.at);
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  if (v > max) throw new DerError(`INTEGER ${v} exceeds ${max}`, tlv.at);
  return v;
}

/** Decodes a DER BOOLEAN (0x00 or 0xff only). */
export function boolean(buf: Uint8Array, tlv: Tlv): boolean {
  if (tlv.tag !== Tag.BOOLEAN || tlv.end - tlv.start !== 1) {
    throw new DerError("expected BOOLEAN", tlv.at);
  }
  const v = buf[tlv.start];
  if (v !== 0 && v !== 0xff) throw new DerError("non-DER BOOLEAN", tlv.start);
  return v === 0xff;
}

/** Returns the bytes of a BIT STRING with no unused bits. */
export function bitString(buf: Uint8Array, tlv: Tlv): Uint8Array {
  if (tlv.tag !== Tag.BIT_STRING || tlv.end === tlv.start) {
    throw new DerError("expected BIT STRING", tlv.at);
  }
  if (buf[tlv.start] !== 0) throw new DerError("BIT STRING with unused bits", tlv.start);
  return buf.subarray(tlv.start + 1, tlv.end);
}

/** Decodes a UTCTime or GeneralizedTime (DER forms, seconds, `Z`) to epoch milliseconds. */
export function time(buf: Uint8Array, tlv: Tlv): number {
  const len = tlv.end - tlv.start;
  const yearDigits = tlv.tag === Tag.UTC_TIME ? 2 : tlv.tag === Tag.GENERALIZED_TIME ? 4 : 0;
  if (yearDigits === 0 || len !== yearDigits + 11 || buf[tlv.end - 1] !== 0x5a) {
    throw new DerError("bad time", tlv.at);
  }
  const digits: number[] = [];
  for (let i = tlv.start; i < tlv.end - 1; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) throw new DerError("bad time", tlv.at);
    digits.push(d);
  }
  const two = (i: number) => digits[i] * 10 + digits[i + 1];
  let year = yearDigits === 2 ? two(0) : two(0) * 100 + two(2);
  if (yearDigits === 2) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, sec] = [0, 2, 4, 6, 8].map((k) => two(yearDigits + k));
  const ms = Date.UTC(year, mo - 1, d, h, mi, sec);
  const check = new Date(ms);
  if (
    mo < 1 || mo > 12 || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 ||
    mi > 59 || sec > 59
  ) {
    throw new DerError("invalid calendar time", tlv.at);
  }
  return ms;
}

/** Converts a DER ECDSA-Sig-Value `SEQUENCE { r, s }` to raw 64-byte r‖s. */
export function ecdsaSignatureToRaw(
  buf: Uint8Array,
  at: number = 0,
  limit: number = buf.length,
): Uint8Array {
  const seq = expect(buf, at, limit, Tag.SEQUENCE);
  if (seq.end !== limit) throw new DerError("trailing bytes after ECDSA signature", seq.end);
  const [r, s, extra] = children(buf, seq);
  if (!r || !s || extra) throw new DerError("ECDSA signature must have two INTEGERs", seq.at);
  const out = new Uint8Array(64);
  for (const [i, tlv] of [r, s].entries()) {
    const v = unsignedInteger(buf, tlv);
    if (v.length > 32) throw new DerError("ECDSA signature component too long", tlv.at);
    out.set(v, 32 * (i + 1) - v.length);
  }
  return out;
}
