import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

Deno.test("backoff: grows, caps, jitters within bounds, resets", () => {
  const b = new Backoff({ initial: 100, multiplier: 2, max: 350, jitter: 0 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 350, 350]);
  b.reset();
  assert.equal(b.next(), 100);
  const j = new Backoff({ initial: 1000, jitter: 0.5 });
  for (let i = 0; i < 100; i++) {
    const d = j.next();
    j.reset();
    assert.ok(d >= 500 && d <= 1500);
  }
});
