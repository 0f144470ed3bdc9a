import assert from "node:assert/strict";
import { dropOldest, remember } from "./bounded.ts";

Deno.test("dropOldest keeps the newest keys of a map or set", () => {
  const map = new Map([["a", 1], ["b", 2], ["c", 3]]);
  map.delete("a");
  map.set("a", 4); // re-inserted: now the newest
  dropOldest(map, 2);
  assert.deepEqual([...map.keys()], ["c", "a"]);
  const set = new Set([1, 2, 3, 4]);
  dropOldest(set, 1);
  assert.deepEqual([...set], [4]);
  dropOldest(set, 5);
  assert.deepEqual([...set], [4]);
  dropOldest(set, -1); // a bound below zero empties the table, and returns
  assert.equal(set.size, 0);
});

Deno.test("remember holds at most max entries, the newest last", () => {
  const map = new Map<number, number>();
  for (let i = 0; i < 10; i++) remember(map, i, i * i, 3);
  assert.deepEqual([...map], [[7, 49], [8, 64], [9, 81]]);
});
