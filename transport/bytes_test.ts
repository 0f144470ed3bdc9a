import assert from "node:assert/strict";
import { copyBytes, fromLatin1, latin1, ownBytes } from "./bytes.ts";

Deno.test("copyBytes: copies never alias the source nor each other, and pin at most a slab", () => {
  const frame = new Uint8Array(1 << 16).map((_, i) => i);
  const copies = Array.from(
    { length: 500 },
    (_, i) => copyBytes(frame.subarray(i, i + 1 + i % 90)),
  );
  frame.fill(0);
  copies.forEach((c, i) => {
    assert.deepEqual([...c], Array.from({ length: 1 + i % 90 }, (_, j) => (i + j) & 0xff));
    assert.ok(c.buffer !== frame.buffer && c.buffer.byteLength <= 16384);
    assert.equal(c.byteOffset % 8, 0);
  });
  copies[0].fill(7);
  assert.equal(copies[1][0], 1, "a neighbour in the slab is untouched");
  const kib = [copyBytes(frame.subarray(3, 1027)), copyBytes(frame.subarray(5, 2052))];
  frame.fill(9);
  kib.forEach((c, k) => {
    assert.equal(c.length, k === 0 ? 1024 : 2047);
    assert.ok(c.buffer.byteLength <= 16384 && c.byteOffset % 8 === 0);
    assert.ok(c.every((v) => v === 0), "copied before the source changed");
  });
  const large = copyBytes(frame.subarray(0, 4096));
  assert.equal(large.buffer.byteLength, 4096);
  assert.equal(copyBytes(new Uint8Array(0)).length, 0);
});

Deno.test("ownBytes: a whole buffer is kept, a view is copied", () => {
  const whole = new Uint8Array(8);
  assert.equal(ownBytes(whole), whole);
  assert.equal(ownBytes(new Uint8Array(64).subarray(0, 8)).buffer.byteLength, 8);
});

Deno.test("latin1: one character per byte, for views and long inputs, reversed by fromLatin1", () => {
  const all = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff);
  const view = all.subarray(3, 19_999);
  const text = latin1(view);
  assert.equal(text.length, view.length);
  view.forEach((b, i) => assert.equal(text.charCodeAt(i), b));
  assert.deepEqual(fromLatin1(text), view);
  assert.equal(latin1(new Uint8Array(0)), "");
});
