import assert from "node:assert/strict";
import { Expiry } from "./_expiry.ts";
import type { Scheduler } from "./_scheduler.ts";

/** Virtual time: timers run when `advance` passes them. */
class VirtualTime implements Scheduler {
  t = 0;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.#timers.push(timer);
    return () => void (timer.live = false);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.#timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

/** A catalog of entries expiring at the given times. */
function catalogOf(expiries: number[], clock: VirtualTime) {
  const left = [...expiries].sort((a, b) => a - b);
  let purges = 0;
  return {
    catalog: {
      purge() {
        purges++;
        const before = left.length;
        while (left.length && left[0] <= clock.t) left.shift();
        return before - left.length;
      },
      nextExpiry: () => left[0],
    },
    left: () => left.length,
    purges: () => purges,
  };
}

Deno.test("expiry: 1,000 entries expiring 1 ms apart take a few purges, not 1,000", () => {
  const clock = new VirtualTime();
  const expiries = Array.from({ length: 1_000 }, (_, i) => 100 + i);
  const c = catalogOf(expiries, clock);
  const expiry = new Expiry(c.catalog, clock, 250, () => clock.t);
  for (const at of expiries) expiry.arm(at);
  clock.advance(2_000);
  assert.equal(c.left(), 0);
  assert.ok(c.purges() <= 6, `${c.purges()} purges`);
});

Deno.test("expiry: a lone entry is purged on time; an earlier one re-arms the timer", () => {
  const clock = new VirtualTime();
  const c = catalogOf([500, 100], clock);
  const expiry = new Expiry(c.catalog, clock, 250, () => clock.t);
  expiry.arm(500);
  expiry.arm(100);
  clock.advance(101);
  assert.equal(c.left(), 1);
  clock.advance(400);
  assert.equal(c.left(), 0);
  assert.equal(c.purges(), 2);
});
