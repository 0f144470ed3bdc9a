import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32 } from "./_crc32.ts";

Deno.test("crc32 is zlib's at every length around its 16-byte steps", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const bytes = crypto.getRandomValues(new Uint8Array(4096));
  for (const length of [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4089]) {
    const input = bytes.subarray(7, 7 + length); // unaligned
    assert.equal(crc32(input), zlibCrc32(input) >>> 0, `length ${length}`);
  }
});
