import assert from "node:assert/strict";
import { AntiEntropy, OUTSIDE_SYNC_EVERY } from "./_anti_entropy.ts";
import { VirtualScheduler } from "./_scheduler.ts";
import type { PeerId } from "@mosaik/transport";

/** The peers synced with over `ms` of virtual time (each sync ends before the next 10 ms step). */
async function syncsOver(ms: number, longest: number, hurryAt?: number): Promise<string[]> {
  const clock = new VirtualScheduler();
  const peer = (id: string) => ({ id: id as PeerId, addresses: [] });
  const synced: string[] = [];
  const ae = new AntiEntropy(clock, longest, {
    neighbor: () => peer("neighbour"),
    outsider: (connected) => peer(connected ? "connected outsider" : "outsider"),
    sync: (p) => {
      synced.push(p.id);
      return Promise.resolve();
    },
  });
  if (hurryAt !== undefined) clock.after(hurryAt, () => ae.hurry());
  for (let t = 10; t <= ms; t += 10) {
    clock.run(t);
    await Promise.resolve(); // the sync's completion
  }
  ae.close();
  return synced;
}

Deno.test("anti-entropy: every other sync after a change goes outside the active view", async () => {
  // 100, 200, 400, 800 ms… apart (±25%): the first five are all before the steady state
  const soon = (await syncsOver(5_000, 60_000)).slice(0, 5);
  const o = "connected outsider"; // a peer we hold a connection to: no handshake
  assert.deepEqual(soon, ["neighbour", o, "neighbour", o, "neighbour"]);
});

Deno.test("anti-entropy: in steady state one sync in OUTSIDE_SYNC_EVERY goes outside", async () => {
  const steady = (await syncsOver(100_000, 1_000)).slice(-80);
  const outside = steady.filter((p) => p === "outsider").length;
  assert.ok(Math.abs(outside - 80 / OUTSIDE_SYNC_EVERY) <= 1, `${outside} of 80 outside`);
});
