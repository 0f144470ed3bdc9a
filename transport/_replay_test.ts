import assert from "node:assert/strict";
import { SeenProofs } from "./_replay.ts";

Deno.test("seen proofs: each is admitted once; the window is symmetric", () => {
  const seen = new SeenProofs(60_000, 100);
  const now = 1_000_000_000;
  assert.equal(seen.skew(now + 60_000, now), 0);
  assert.equal(seen.skew(now - 60_000, now), 0);
  assert.equal(seen.skew(now + 60_001, now), 60_001);
  assert.equal(seen.skew(now - 61_000, now), -61_000);
  assert.ok(seen.admit("a", now, now));
  assert.ok(!seen.admit("a", now, now));
  assert.ok(seen.admit("b", now, now));
});

Deno.test("seen proofs: forgotten as their second leaves the window, and never admitted again", () => {
  const seen = new SeenProofs(60_000, 100);
  const t = 1_000_000_000;
  assert.ok(seen.admit("a", t, t));
  assert.ok(!seen.admit("a", t, t + 60_000));
  assert.ok(seen.admit("b", t + 1_000, t + 1_000));
  // t's second is older than the window: forgotten, and refused even if the clock steps back
  assert.ok(!seen.admit("c", t, t + 61_500));
  assert.equal(seen.size, 1);
  assert.ok(!seen.admit("a", t, t));
});

Deno.test("seen proofs: when full, the oldest second is dropped and refused from then on", () => {
  const seen = new SeenProofs(60_000, 3);
  const t = 1_000_000_000;
  assert.ok(seen.admit("a", t - 5_000, t));
  assert.ok(seen.admit("b", t, t));
  assert.ok(seen.admit("c", t + 5_000, t));
  assert.ok(seen.admit("d", t + 1_000, t)); // drops t-5s
  assert.equal(seen.size, 3);
  assert.ok(!seen.admit("a", t - 5_000, t));
  assert.ok(!seen.admit("z", t - 10_000, t));
  assert.ok(!seen.admit("b", t, t));
  assert.ok(!seen.admit("c", t + 5_000, t));
  assert.ok(!seen.admit("d", t + 1_000, t));
});
