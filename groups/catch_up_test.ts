import assert from "node:assert/strict";
import { CatchUp, type CatchUpMessage } from "./_catch_up.ts";
import type { RaftCore } from "./_raft.ts";

Deno.test("catch-up: the nearest peers are asked for the first ranges", () => {
  const core = {
    role: "follower",
    config: { cluster: "x" },
    cluster: "x",
    lastIndex: 0,
    commit: 0,
    term: 1,
    lead: "L",
    termAt: () => undefined,
  } as unknown as RaftCore;
  const rtt: Record<string, number> = { a: 50, b: 5, c: 20, L: 1 };
  const sent: [string, CatchUpMessage][] = [];
  const catchUp = new CatchUp({
    core: () => core,
    now: () => 0,
    bonds: () => new Set(["a", "b", "c", "L"]),
    clusterOf: () => "x",
    send: (to, m) => sent.push([to, m]),
    gap: 10,
    batch: 10,
    retryTicks: 100,
    timeoutTicks: 1000,
    rank: (p) => rtt[p],
  });
  catchUp.maybeStart("L", 100, 1, "x");
  // The leader replicates anyway and is not asked; b (5 ms) gets 1..10, c 11..20, a 21..30.
  assert.deepEqual(
    sent.map(([to, m]) => [to, m.type === "Fetch" ? m.from : -1]),
    [["b", 1], ["c", 11], ["a", 21]],
  );
});
