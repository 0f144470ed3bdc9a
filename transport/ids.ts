/**
 * Identities and digests: {@linkcode SecretKey}, {@linkcode PeerId} and
 * {@linkcode Digest}. The branded kinds of digest every layer names things
 * with live in `vocabulary.ts`.
 *
 * @module
 */
import { blake3 } from "./_blake3.ts";
import { Buffer } from "node:buffer";
// node:crypto loads Deno's Node layer, about 4 MiB of an idle node's RSS, but
// it is the only native Ed25519 that answers synchronously, and the fastest:
// WebCrypto is async and slower (verify with importKey 85 µs, sign 33-48 µs,
// against 46 µs and 18 µs here); noble is ten times slower still.
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { decodePoint, isSmallOrder, weakEncoding } from "./_ed25519_point.ts";
import { DecodeError } from "./errors.ts";

/**
 * A 32-byte BLAKE3 digest in lowercase hex. Built with {@linkcode digest}.
 *
 * Two nodes that name the same thing get the same digest without any
 * coordination, which is how ids are intent-addressed.
 */
export type Digest = string & { readonly __digest: true };
/**
 * A peer's Ed25519 public key in z-base-32 (52 characters), usable as a DNS
 * label and as a `Map` key.
 */
export type PeerId = string & { readonly __peer: true };

const HEX_RE = /^[0-9a-fA-F]{64}$/;
const encoder = new TextEncoder();

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * Encodes bytes as lowercase hex. Joined, not appended pair by pair: `+=`
 * makes a rope of a node per pair (about 1.3 KiB for a digest) that every
 * map key, catalog entry and id in flight would keep.
 */
export function toHex(bytes: Uint8Array): string {
  const pairs = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) pairs[i] = HEX_PAIRS[bytes[i]];
  return pairs.join("");
}

/** The value of each hex digit's character code, -1 for other characters. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES["0123456789abcdef".charCodeAt(i)] = i;
  HEX_VALUES["0123456789ABCDEF".charCodeAt(i)] = i;
}

function hexValue(hex: string, i: number): number {
  const c = hex.charCodeAt(i);
  return c < 128 ? HEX_VALUES[c] : -1;
}

/**
 * Decodes hex text; throws {@linkcode DecodeError} on odd length or bad
 * characters. Reads character codes: no substring per byte (gossip turns
 * every id it sends into bytes).
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new DecodeError("invalid hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = hexValue(hex, 2 * i);
    const low = hexValue(hex, 2 * i + 1);
    if (high < 0 || low < 0) throw new DecodeError("invalid hex string");
    out[i] = (high << 4) | low;
  }
  return out;
}

/**
 * Makes a {@linkcode Digest}. The string rule: 64 hex characters are taken
 * as the digest itself; any other string is hashed with BLAKE3 (UTF-8).
 * Bytes are always hashed.
 *
 * @example
 * ```ts
 * import { digest } from "@mosaik/transport";
 * const a = digest("prices");
 * console.assert(a === digest("prices"));
 * console.assert(digest(a) === a); // hex passes through
 * ```
 */
export function digest<T extends Digest = Digest>(input: string | Uint8Array): T {
  if (typeof input === "string") {
    if (HEX_RE.test(input)) return input.toLowerCase() as T;
    input = encoder.encode(input);
  }
  return toHex(blake3(input)) as T;
}

/**
 * Derives a child digest: `BLAKE3(parent || data)`.
 *
 * @example
 * ```ts
 * import { derive, digest } from "@mosaik/transport";
 * const child = derive(digest("net"), "streams/prices");
 * ```
 */
export function derive<T extends Digest = Digest>(
  parent: Digest,
  data: string | Uint8Array,
): T {
  const tail = typeof data === "string" ? encoder.encode(data) : data;
  const head = fromHex(parent);
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head);
  joined.set(tail, head.length);
  return toHex(blake3(joined)) as T;
}

/** The 32 raw bytes of a digest. */
export function digestBytes(d: Digest): Uint8Array {
  return fromHex(d);
}

/** Encodes a 32-byte Ed25519 public key as a {@linkcode PeerId}. */
export function peerIdFromBytes(publicKey: Uint8Array): PeerId {
  if (publicKey.length !== 32) throw new DecodeError("a peer id is 32 bytes");
  // Character codes made into one flat string (see toHex on why not `+=`).
  const codes = ID_CODES;
  let n = 0;
  let buffer = 0;
  let bits = 0;
  for (const byte of publicKey) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      codes[n++] = Z_BASE_32_CODES[(buffer >> bits) & 31];
    }
  }
  codes[n] = Z_BASE_32_CODES[(buffer << (5 - bits)) & 31];
  return String.fromCharCode.apply(null, codes) as PeerId;
}

const Z_BASE_32 = "ybndrfg8ejkmcpqxot1uwisza345h769";
const Z_BASE_32_CODES = Array.from(Z_BASE_32, (c) => c.charCodeAt(0));
/** The characters of the id being encoded (reused: encoding is synchronous). */
const ID_CODES: number[] = new Array(52).fill(0);
const Z_CODES = new Int8Array(128).fill(-1);
for (let i = 0; i < Z_BASE_32.length; i++) Z_CODES[Z_BASE_32.charCodeAt(i)] = i;

/**
 * Decodes a {@linkcode PeerId} to its 32 public-key bytes. Only the
 * canonical text of 32 bytes decodes: 52 characters of the z-base-32
 * alphabet whose 4 bits beyond the 256th are zero (sync summaries and
 * signed entries decode thousands of ids, so this is a hand loop rather
 * than a generic base codec). With `into`, the bytes are written there at
 * `offset` (nothing is allocated; on an invalid id some may have been) and
 * `into` is returned.
 */
export function peerIdToBytes(
  id: PeerId | string,
  into: Uint8Array = new Uint8Array(32),
  offset = 0,
): Uint8Array {
  if (id.length !== 52) throw invalidPeerId(id);
  let buffer = 0;
  let bits = 0;
  let at = offset;
  for (let i = 0; i < 52; i++) {
    const c = id.charCodeAt(i);
    const v = c < 128 ? Z_CODES[c] : -1;
    if (v < 0) throw invalidPeerId(id);
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      into[at++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw invalidPeerId(id);
  return into;
}

function invalidPeerId(id: string): DecodeError {
  return new DecodeError(`invalid peer id ${JSON.stringify(id)}`);
}

/** Checks and brands a string as a {@linkcode PeerId}; throws {@linkcode DecodeError}. */
export function parsePeerId(text: string): PeerId {
  peerIdToBytes(text);
  return text as PeerId;
}

/**
 * An Ed25519 secret key (32-byte seed) and the {@linkcode PeerId} it proves.
 *
 * @example
 * ```ts
 * import { SecretKey, verify } from "@mosaik/transport";
 * const key = SecretKey.generate();
 * const sig = key.sign(new Uint8Array([1, 2, 3]));
 * console.assert(verify(key.peerId, new Uint8Array([1, 2, 3]), sig));
 * ```
 */
export class SecretKey {
  /** The 32-byte seed. Keep it private. */
  readonly seed: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The public key as a {@linkcode PeerId}. */
  readonly peerId: PeerId;

  // Native (node:crypto) rather than noble: noble's first fixed-base
  // multiplication builds a window table that leaves ~9 MiB of RSS behind,
  // which an idle node would pay for one public key and one signature.
  #nativeKey: KeyObject;

  private constructor(seed: Uint8Array) {
    this.seed = seed;
    this.#nativeKey = createPrivateKey({
      key: Buffer.from([...PKCS8_ED25519_PREFIX, ...seed]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.#nativeKey).export({ format: "der", type: "spki" });
    this.publicKey = new Uint8Array(spki.subarray(spki.length - 32));
    this.peerId = peerIdFromBytes(this.publicKey);
  }

  /** A fresh random key. */
  static generate(): SecretKey {
    return new SecretKey(crypto.getRandomValues(new Uint8Array(32)));
  }

  /**
   * A key from a 32-byte seed, or from a string by the digest string rule
   * (64 hex characters are the seed; any other text is hashed).
   */
  static from(seed: Uint8Array | string): SecretKey {
    if (typeof seed === "string") return new SecretKey(fromHex(digest(seed)));
    if (seed.length !== 32) throw new DecodeError("an Ed25519 seed is 32 bytes");
    return new SecretKey(seed.slice());
  }

  /** Signs a message (Ed25519, 64-byte signature), synchronously. */
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.#nativeKey));
  }

  /**
   * Signs a message like {@linkcode SecretKey.sign}, for callers that want a
   * promise. Same signature bytes.
   */
  signAsync(message: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.sign(message));
  }
}

const PKCS8_ED25519_PREFIX = [
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
];

/** DER (SPKI) of an Ed25519 public key: this prefix, then the 32 key bytes. */
const SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const SPKI = Buffer.from([...SPKI_PREFIX, ...new Uint8Array(32)]);

const keyChecks = new Map<string, boolean>();

/**
 * Whether `publicKey` is a usable Ed25519 public key: 32 bytes, a canonical
 * encoding of a curve point, and not of small order. A small-order key (the
 * identity point, for one) verifies signatures nobody made, so anyone could
 * act as its PeerId; every signature check here and in the DHT (BEP 44)
 * refuses such keys.
 *
 * @example
 * ```ts
 * import { isValidPublicKey, SecretKey } from "@mosaik/transport";
 * console.assert(isValidPublicKey(SecretKey.generate().publicKey));
 * const identity = new Uint8Array(32);
 * identity[0] = 1;
 * console.assert(!isValidPublicKey(identity));
 * ```
 */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  const id = toHex(publicKey);
  let valid = keyChecks.get(id);
  if (valid === undefined) {
    const point = decodePoint(publicKey);
    valid = point !== undefined && !isSmallOrder(point);
    if (keyChecks.size >= 4096) keyChecks.clear();
    keyChecks.set(id, valid);
  }
  return valid;
}

/**
 * Verifies an Ed25519 signature like {@linkcode verify}, for callers that
 * want a promise. Never rejects.
 *
 * @example
 * ```ts
 * import { SecretKey, verifyAsync } from "@mosaik/transport";
 * const key = SecretKey.generate();
 * const msg = new Uint8Array([1]);
 * console.assert(await verifyAsync(key.peerId, msg, await key.signAsync(msg)));
 * ```
 */
export function verifyAsync(
  peer: PeerId | Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return Promise.resolve(verify(peer, message, signature));
}

/**
 * Verifies an Ed25519 signature by `peer` over `message` with the runtime's
 * native Ed25519 (node:crypto; not WebCrypto, whose every `importKey` leaves
 * a CryptoKey on the heap until a full GC). Refuses every key that
 * {@linkcode isValidPublicKey} refuses. Never throws.
 */
export function verify(
  peer: PeerId | Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const key = typeof peer === "string" ? peerIdToBytes(peer) : peer;
    // The byte check, not isValidPublicKey's decoding: the native check
    // refuses keys that encode no point, and a flood of fresh keys would
    // otherwise cost a BigInt decompression (and its garbage) each.
    if (signature.length !== 64 || key.length !== 32 || weakEncoding(key)) return false;
    SPKI.set(key, SPKI_PREFIX.length);
    return nodeVerify(null, message, { key: SPKI, format: "der", type: "spki" }, signature);
  } catch {
    return false;
  }
}
