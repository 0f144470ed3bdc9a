import assert from "node:assert/strict";
import { blake3 as noble } from "@noble/hashes/blake3.js";
import { blake3 } from "./_blake3.ts";
import { toHex } from "./ids.ts";

Deno.test("blake3 of nothing is the reference's", () => {
  assert.equal(
    toHex(blake3(new Uint8Array())),
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  );
});

Deno.test("blake3 is noble's at every block, chunk and subtree boundary", () => {
  const input = crypto.getRandomValues(new Uint8Array(9000));
  for (
    const length of [
      1,
      63,
      64,
      65,
      1023,
      1024,
      1025,
      2048,
      2049,
      3072,
      3073,
      4096,
      4097,
      8192,
      8193,
    ]
  ) {
    const bytes = input.subarray(3, 3 + length); // unaligned
    assert.equal(toHex(blake3(bytes)), toHex(noble(bytes)), `length ${length}`);
  }
});
