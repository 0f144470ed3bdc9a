/**
 * BEP 44 items: targets, the signed buffer, signing and verification of
 * mutable items (Ed25519).
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { concatBytes } from "@mosaik/transport";
import { type BInput, type BValue, decodeBencode, encodeBencode } from "./bencode.ts";

/** Largest encoded `v` a node stores (BEP 44 allows refusing more). */
export const MAX_VALUE_SIZE = 1000;
/** Largest salt (BEP 44). */
export const MAX_SALT_SIZE = 64;

/** A mutable item as stored and returned by nodes. */
export interface MutableItem {
  /** 32-byte Ed25519 public key of the writer. */
  k: Uint8Array;
  /** Salt (not sent back by `get`; the reader knows it). Empty when none. */
  salt: Uint8Array;
  /** Sequence number: higher wins. */
  seq: number;
  /** The value (any bencoded value). */
  v: BValue;
  /** 64-byte signature over {@linkcode signable}. */
  sig: Uint8Array;
}

/** Something that can sign BEP 44 buffers: a `SecretKey` from @mosaik/transport fits. */
export interface ItemSigner {
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

const ascii = (s: string) => new TextEncoder().encode(s);

/**
 * The buffer a mutable item's signature covers:
 * `[4:salt<len>:<salt>]3:seqi<seq>e1:v<bencoded v>`.
 *
 * @example
 * ```ts
 * import { signable } from "@mosaik/discovery/dht";
 * const buf = signable(1, new TextEncoder().encode("12:Hello World!"));
 * console.assert(new TextDecoder().decode(buf) === "3:seqi1e1:v12:Hello World!");
 * ```
 */
export function signable(seq: number, encodedV: Uint8Array, salt?: Uint8Array): Uint8Array {
  const head = salt && salt.length > 0
    ? concatBytes(ascii("4:salt"), encodeBencode(salt))
    : new Uint8Array();
  return concatBytes(head, ascii(`3:seqi${seq}e1:v`), encodedV);
}

/** Target of a mutable item: SHA-1(k ‖ salt). */
export function mutableTarget(k: Uint8Array, salt?: Uint8Array): Uint8Array {
  return sha1(salt && salt.length > 0 ? concatBytes(k, salt) : k);
}

/** Target of an immutable item: SHA-1(bencode(v)). */
export function immutableTarget(v: BInput): Uint8Array {
  return sha1(encodeBencode(v));
}

/** True when `sig` is k's Ed25519 signature of the item. Never throws. */
export function verifyItem(
  k: Uint8Array,
  seq: number,
  encodedV: Uint8Array,
  sig: Uint8Array,
  salt?: Uint8Array,
): boolean {
  try {
    return k.length === 32 && sig.length === 64 &&
      ed25519.verify(sig, signable(seq, encodedV, salt), k);
  } catch {
    return false;
  }
}

/**
 * Builds and signs a mutable item.
 *
 * @example
 * ```ts
 * import { SecretKey } from "@mosaik/transport";
 * import { encodeBencode, signItem, verifyItem } from "@mosaik/discovery/dht";
 * const key = SecretKey.generate();
 * const item = signItem(key, "hi", 1);
 * console.assert(verifyItem(item.k, 1, encodeBencode("hi"), item.sig));
 * ```
 */
export function signItem(
  signer: ItemSigner,
  v: BInput,
  seq: number,
  salt: Uint8Array = new Uint8Array(),
): MutableItem {
  const encodedV = encodeBencode(v);
  const sig = signer.sign(signable(seq, encodedV, salt));
  return { k: signer.publicKey, salt, seq, v: decodeBencode(encodedV), sig };
}
