import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { decodePoint, isSmallOrder, weakEncoding } from "./_ed25519_point.ts";
import { fromHex, SecretKey } from "./ids.ts";

/** noble's verdict: a canonical point encoding, and whether it is of small order. */
function noble(bytes: Uint8Array): { valid: boolean; small?: boolean } {
  try {
    const point = ed25519.Point.fromBytes(bytes, false);
    return { valid: true, small: point.isSmallOrder() };
  } catch {
    return { valid: false };
  }
}

function ours(bytes: Uint8Array): { valid: boolean; small?: boolean } {
  const point = decodePoint(bytes);
  return point ? { valid: true, small: isSmallOrder(point) } : { valid: false };
}

// The canonical encodings of the eight points of small order, and
// non-canonical ones (y >= P, x = 0 with the sign bit).
const SPECIAL = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "0100000000000000000000000000000000000000000000000000000000000080",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

Deno.test("ed25519 point: small-order and non-canonical encodings agree with noble", () => {
  const small = SPECIAL.map(fromHex).filter((b) => ours(b).small);
  assert.equal(small.length, 8);
  for (const hex of SPECIAL) assert.deepEqual(ours(fromHex(hex)), noble(fromHex(hex)), hex);
});

Deno.test("ed25519 point: random encodings and real keys agree with noble", () => {
  for (let i = 0; i < 500; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    assert.deepEqual(ours(bytes), noble(bytes));
    const key = SecretKey.generate().publicKey;
    assert.deepEqual(ours(key), { valid: true, small: false });
  }
});

Deno.test("ed25519 point: the byte check flags exactly the small-order and non-canonical encodings", () => {
  for (const hex of SPECIAL) {
    const n = noble(fromHex(hex));
    assert.equal(weakEncoding(fromHex(hex)), !n.valid || n.small === true, hex);
  }
  for (let i = 0; i < 500; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const n = noble(bytes);
    // An encoding of no point may pass the byte check: the native verify refuses it.
    if (n.valid) assert.equal(weakEncoding(bytes), n.small);
    assert.equal(weakEncoding(SecretKey.generate().publicKey), false);
  }
});
