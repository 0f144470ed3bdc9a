import assert from "node:assert/strict";
import {
  derive,
  digest,
  fromHex,
  isValidPublicKey,
  parsePeerId,
  type PeerId,
  peerIdFromBytes,
  peerIdToBytes,
  SecretKey,
  verify,
  verifyAsync,
} from "./ids.ts";
import { DecodeError } from "./errors.ts";

Deno.test("digest: hex passes through, other strings are hashed", () => {
  const hex = "ab".repeat(32);
  assert.deepEqual(digest(hex), hex);
  assert.deepEqual(digest(hex.toUpperCase()), hex);
  assert.deepEqual(digest("prices").length, 64);
  // BLAKE3("") reference value
  assert.deepEqual(digest(""), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  assert(derive(digest("a"), "b") !== digest("ab"));
});

Deno.test("peer ids are 52-char z-base-32 and round-trip", () => {
  const key = SecretKey.generate();
  assert.deepEqual(key.peerId.length, 52);
  assert(/^[a-z0-9]+$/.test(key.peerId));
  assert.deepEqual(peerIdToBytes(key.peerId), key.publicKey);
  assert.deepEqual(peerIdFromBytes(key.publicKey), key.peerId);
  assert.throws(() => parsePeerId("not-a-peer"), DecodeError);
  assert.throws(() => parsePeerId(key.peerId.slice(1)), DecodeError);
  assert.equal(peerIdFromBytes(new Uint8Array(32)), "y".repeat(52));
  assert.equal(peerIdFromBytes(new Uint8Array(32).fill(255)), "9".repeat(51) + "o");
});

Deno.test("keys and signatures match RFC 8032's first test vector", () => {
  const key = SecretKey.from(
    fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
  );
  assert.deepEqual(
    key.publicKey,
    fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  );
  const sig = key.sign(new Uint8Array(0));
  assert.deepEqual(
    sig,
    fromHex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
  );
  assert(verify(key.publicKey, new Uint8Array(0), sig));
});

Deno.test("secret keys from strings are deterministic; signatures verify", () => {
  const a = SecretKey.from("node-1");
  assert.deepEqual(a.peerId, SecretKey.from("node-1").peerId);
  const msg = new TextEncoder().encode("hello");
  const sig = a.sign(msg);
  assert(verify(a.peerId, msg, sig));
  assert(!verify(SecretKey.from("node-2").peerId, msg, sig));
  assert(!verify(a.peerId, msg, sig.slice(1)));
});

Deno.test("signAsync and verifyAsync agree with sign and verify", async () => {
  const key = SecretKey.from("native");
  const msg = new TextEncoder().encode("same bytes");
  const sig = await key.signAsync(msg);
  assert.deepEqual(sig, key.sign(msg));
  assert.ok(await verifyAsync(key.peerId, msg, sig));
  assert.ok(!(await verifyAsync(key.peerId, msg.slice(1), sig)));
  assert.ok(!(await verifyAsync(key.peerId, msg, sig.slice(2))));
  assert.ok(!(await verifyAsync("garbage" as PeerId, msg, sig)));
});

Deno.test("small-order and non-canonical public keys are refused, and so are their signatures", async () => {
  assert.ok(isValidPublicKey(SecretKey.generate().publicKey));
  const identity = new Uint8Array(32);
  identity[0] = 1; // the identity point
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[31] = 0x7f; // y >= p
  assert.ok(!isValidPublicKey(identity));
  assert.ok(!isValidPublicKey(nonCanonical));
  // R = identity, S = 0 "verifies" any message under the identity key
  const signature = new Uint8Array(64);
  signature[0] = 1;
  const message = new Uint8Array([1, 2, 3]);
  assert.ok(!verify(identity, message, signature));
  assert.ok(!(await verifyAsync(identity, message, signature)));
});
