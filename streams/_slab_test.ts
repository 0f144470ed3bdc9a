import assert from "node:assert/strict";
import { Slab, SLAB_BLOCK, SLAB_MAX_COPY } from "./_slab.ts";

Deno.test("slab: copies are independent of their source and of each other, across blocks", () => {
  const slab = new Slab();
  const source = new Uint8Array(1000);
  const copies: Uint8Array[] = [];
  for (let i = 0; i < (3 * SLAB_BLOCK) / source.length; i++) {
    source.fill(i);
    copies.push(slab.copy(source));
  }
  source.fill(255);
  copies.forEach((c, i) => {
    assert.equal(c.length, source.length);
    assert.ok(c.every((b) => b === i), `copy ${i} changed`);
  });
  const perBlock = Math.floor(SLAB_BLOCK / source.length);
  const blocks = new Set(copies.map((c) => c.buffer)).size;
  assert.equal(blocks, Math.ceil(copies.length / perBlock), "a new block when one is full");
});

Deno.test("slab: a datum over the copy limit gets a buffer of its own", () => {
  const slab = new Slab();
  const small = slab.copy(new Uint8Array(SLAB_MAX_COPY));
  const large = slab.copy(new Uint8Array(SLAB_MAX_COPY + 1));
  assert.equal(small.buffer.byteLength, SLAB_BLOCK);
  assert.equal(large.buffer.byteLength, SLAB_MAX_COPY + 1);
});
