import assert from "node:assert/strict";
import { AcceptedTickets } from "./_accepted.ts";

const entry = (bytes: number) => ({ ticket: new Uint8Array(bytes), from: 0, until: 1 });

Deno.test("accepted tickets: bounded in entries and in bytes, oldest out first", () => {
  const cache = new AcceptedTickets(3, 100);
  for (const k of ["a", "b", "c", "d"]) cache.set(k, entry(10));
  assert.equal(cache.size, 3);
  assert.equal(cache.get("a"), undefined, "the oldest went first");
  // A large ticket: the byte bound evicts as many old entries as it takes.
  cache.set("big", entry(90));
  assert.deepEqual([cache.get("b"), cache.get("c")], [undefined, undefined]);
  assert.ok(cache.get("d"));
  assert.deepEqual([cache.size, cache.bytes], [2, 100]);
  // Replacing a key counts its bytes once; a flood of big tickets stays within the bound.
  cache.set("big", entry(40));
  assert.deepEqual([cache.size, cache.bytes], [2, 50]);
  for (let i = 0; i < 1000; i++) cache.set(`p${i}`, entry(60));
  assert.ok(cache.bytes <= 100 && cache.size <= 3);
  cache.clear();
  assert.deepEqual([cache.size, cache.bytes], [0, 0]);
});
