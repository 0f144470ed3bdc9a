import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, encode } from "./codec.ts";
import { DecodeError } from "./errors.ts";

Deno.test("codec round-trips plain values and keeps bytes binary", () => {
  const value = { a: 1, b: new Uint8Array([1, 2, 3]), c: [1, "x", null], d: 2 ** 40, e: -5 };
  assert.deepEqual(decode(encode(value)), value);
});

Deno.test("codec rejects reserved bytes, trailing bytes and truncation", () => {
  for (const bad of [[0xc1], [1, 2], [0x92, 1], []]) {
    assert.throws(() => decode(new Uint8Array(bad)), DecodeError);
  }
});

Deno.test("codec: random bytes only ever throw DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
});
