import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, DEFAULT_DECODE_LIMITS, encode, encodeView } from "./codec.ts";
import { DecodeError, EncodeError } from "./errors.ts";

Deno.test("codec round-trips plain values and keeps bytes binary", () => {
  const value = { a: 1, b: new Uint8Array([1, 2, 3]), c: [1, "x", null], d: 2 ** 40, e: -5 };
  assert.deepEqual(decode(encode(value)), value);
});

Deno.test("codec: encodeView gives encode's bytes in a buffer the next encode reuses", () => {
  const value = { a: 1, s: new Set(["x"]), m: new Map([[1, [2, 3]]]) };
  const view = encodeView(value);
  assert.deepEqual([...view], [...encode(value)]);
  const kept = view.slice();
  encodeView({ b: 2 });
  assert.notDeepEqual([...view], [...kept]);
  assert.deepEqual(decode(kept), value);
  assert.throws(() => encodeView({ f: () => {} }), EncodeError);
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

Deno.test("codec: a million nested arrays and megabytes of empty maps are refused before decoding", () => {
  const deep = new Uint8Array(1_000_001).fill(0x91);
  deep[deep.length - 1] = 0xc0;
  assert.throws(
    () => decode(deep),
    (e: unknown) => e instanceof DecodeError && /deeper/.test(e.message),
  );
  const maps = new Uint8Array(8 << 20).fill(0x80);
  maps[0] = 0xdd;
  new DataView(maps.buffer).setUint32(1, maps.length - 5);
  assert.throws(() => decode(maps), DecodeError);
  // a count the bytes cannot hold
  assert.throws(() => decode(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), DecodeError);
  // unknown extension types
  assert.throws(() => decode(new Uint8Array([0xd4, 0x05, 0x00])), DecodeError);
  // limits are options
  assert.throws(
    () => decode(encode([[1]]), { ...DEFAULT_DECODE_LIMITS, maxDepth: 1 }),
    DecodeError,
  );
  assert.equal(
    decode<number[]>(encode(Array.from({ length: 100_000 }, (_, i) => i))).length,
    100_000,
  );
});

Deno.test("codec: Map, Set and BigInt arrive as themselves; what cannot is named by path", () => {
  const value = {
    m: new Map<unknown, unknown>([["k", new Set([1n, -129n, 2n ** 100n])], [1, {
      d: new Date(5),
    }]]),
    b: new Uint8Array([1, 2]),
  };
  assert.deepEqual(decode(encode(value)), value);
  for (const n of [0n, -1n, 127n, 128n, -128n, 255n, -(2n ** 64n), 2n ** 64n - 1n]) {
    assert.equal(decode(encode(n)), n);
  }
  class Point {
    x = 1;
  }
  const named = (path: string) => (e: unknown) =>
    e instanceof EncodeError && e.message.endsWith(`at ${path}`);
  assert.throws(() => encode({ a: { b: [0, 1, 2, new Point()] } }), named("$.a.b[3]"));
  assert.throws(() => encode({ a: new Map([["x", () => 1]]) }), named('$.a<"x">'));
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  assert.throws(() => encode(cyclic), named("$.self"));
});
