import assert from "node:assert/strict";
import { Expiry } from "./_expiry.ts";
import { VirtualScheduler } from "./_scheduler.ts";

/** A catalog of entries expiring at the given times. */
function catalogOf(expiries: number[], clock: VirtualScheduler) {
  const left = [...expiries].sort((a, b) => a - b);
  let purges = 0;
  return {
    catalog: {
      purge() {
        purges++;
        const before = left.length;
        while (left.length && left[0] <= clock.now()) left.shift();
        return before - left.length;
      },
      nextExpiry: () => left[0],
    },
    left: () => left.length,
    purges: () => purges,
  };
}

Deno.test("expiry: 1,000 entries expiring 1 ms apart take a few purges, not 1,000", () => {
  const clock = new VirtualScheduler();
  const expiries = Array.from({ length: 1_000 }, (_, i) => 100 + i);
  const c = catalogOf(expiries, clock);
  const expiry = new Expiry(c.catalog, clock, 250, () => clock.now());
  for (const at of expiries) expiry.arm(at);
  clock.run(2_000);
  assert.equal(c.left(), 0);
  assert.ok(c.purges() <= 6, `${c.purges()} purges`);
});

Deno.test("expiry: a lone entry is purged on time; an earlier one re-arms the timer", () => {
  const clock = new VirtualScheduler();
  const c = catalogOf([500, 100], clock);
  const expiry = new Expiry(c.catalog, clock, 250, () => clock.now());
  expiry.arm(500);
  expiry.arm(100);
  clock.run(101);
  assert.equal(c.left(), 1);
  clock.run(501);
  assert.equal(c.left(), 0);
  assert.equal(c.purges(), 2);
});
