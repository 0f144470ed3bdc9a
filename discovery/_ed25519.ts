/**
 * Ed25519 signature checks on node:crypto's native code, for entries that
 * arrive by the thousand (sync and gossip), with the small-order and
 * non-canonical key checks the native code does not make.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { verify as nodeVerify } from "node:crypto";
import { fromHex, verify } from "@mosaik/transport";

/** DER (SPKI) of an Ed25519 public key: this prefix, then the 32 key bytes. */
const SPKI = Buffer.alloc(44);
SPKI.set([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function verifyNative(key: Uint8Array, body: Uint8Array, signature: Uint8Array): boolean {
  try {
    SPKI.set(key, 12);
    return nodeVerify(null, body, { key: SPKI, format: "der", type: "spki" }, signature);
  } catch {
    return false; // not a key
  }
}

/** Whether this runtime's node:crypto verifies Ed25519 (RFC 8032's first test vector). */
const native = verifyNative(
  fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  new Uint8Array(0),
  fromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  ),
);

/**
 * Verifies an Ed25519 signature natively (node:crypto; about 10× faster
 * than pure JS). Not WebCrypto: every `importKey` leaves a CryptoKey and a
 * key-store entry on the heap that only a full GC frees; a flood of 12,000
 * made-up peers' entries cost +45 MiB RSS that way, +22 MiB here.
 */
export function verifyFast(key: Uint8Array, body: Uint8Array, signature: Uint8Array): boolean {
  if (!native) return verify(key, body, signature);
  return !weakKey(key) && verifyNative(key, body, signature);
}

/**
 * Encodings of Ed25519's small-order points, sign bit aside (libsodium's
 * list): the native check, like WebCrypto's, takes a signature nobody made
 * under such a key (the identity point with R = identity, S = 0), so anyone
 * could publish entries as its PeerId. `verify` checks this with curve
 * arithmetic; this is the cheap way for the native path.
 */
const SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map(fromHex);

/** Whether `key` encodes a small-order point or a y of p or more (not canonical). */
function weakKey(key: Uint8Array): boolean {
  let ones = true; // bytes 1..30 all 0xff
  for (let i = 1; i < 31 && ones; i++) ones = key[i] === 0xff;
  if (ones && (key[31] & 0x7f) === 0x7f && key[0] >= 0xed) return true; // y >= p
  return SMALL_ORDER.some((s) => {
    for (let i = 0; i < 31; i++) if (key[i] !== s[i]) return false;
    return (key[31] & 0x7f) === s[31];
  });
}
