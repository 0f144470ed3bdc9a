import assert from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, fastCrc32 } from "./_crc32.ts";

Deno.test("crc32 is zlib's at every length around its 16-byte steps", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const bytes = crypto.getRandomValues(new Uint8Array(4096));
  for (const length of [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4089]) {
    const input = bytes.subarray(7, 7 + length); // unaligned
    assert.equal(crc32(input), zlibCrc32(input) >>> 0, `length ${length}`);
  }
});

Deno.test("fastCrc32 is the same checksum (file storage reads logs either wrote)", () => {
  const fast = fastCrc32();
  assert.notEqual(fast, crc32, "node:zlib is available here");
  const bytes = new Uint8Array(70_000);
  for (let i = 0; i < bytes.length; i += 65_536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  }
  for (const length of [0, 1, 17, 1000, 65_536, 69_993]) {
    const input = bytes.subarray(7, 7 + length);
    assert.equal(fast(input), crc32(input), `length ${length}`);
  }
});
