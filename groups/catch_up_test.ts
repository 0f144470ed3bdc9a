import assert from "node:assert/strict";
import { CatchUp, type CatchUpMessage } from "./_catch_up.ts";
import type { RaftCore } from "./_raft.ts";
import type { Replica } from "./_replica.ts";
import { Sim } from "./_sim.ts";

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
    sent.flatMap(([to, m]) => m.type === "Fetch" ? [[to, m.from]] : []),
    [["b", 1], ["c", 11], ["a", 21]],
  );
  // The leader is asked for the digest of each range, to check the peers' answers against.
  assert.deepEqual(
    sent.flatMap(([to, m]) => m.type === "FetchSum" ? [[to, m.from, m.to]] : []),
    [["L", 1, 10], ["L", 11, 20], ["L", 21, 30]],
  );
});

/** A three-member group with `count` entries and no snapshot; returns the leader. */
async function withLog(seed: number, count: number): Promise<{ sim: Sim; leader: Replica }> {
  const sim = new Sim({ seed, nodes: 3, replica: { snapshotEvery: 100_000 } });
  assert.ok(await sim.until(() => sim.leader()?.core.config?.voters.length === 3, 5000));
  const leader = sim.leader()!;
  let done = 0;
  for (let i = 0; i < count; i++) {
    leader.execute([["put", `k${i}`, i]]).then(() => done++);
    await sim.run(2);
  }
  assert.ok(await sim.until(() => done === count, 20_000));
  return { sim, leader };
}

function sameLog(a: Replica, b: Replica): boolean {
  const last = Math.min(a.core.commit, b.core.commit);
  return JSON.stringify(a.core.entries(1, last)) === JSON.stringify(b.core.entries(1, last));
}

Deno.test("parallel catch-up: a brand-new member fetches the log from the peers, not only the leader", async () => {
  const { sim, leader } = await withLog(41, 200);
  const followers = sim.alive().filter((r) => r !== leader);
  sim.add("n3");
  const joiner = sim.replica("n3");
  const asked: number[] = [];
  const send = joiner.opts.send;
  joiner.opts.send = (to, m) => {
    if (m.type === "Fetch") asked.push(m.from);
    send(to, m);
  };
  assert.ok(await sim.until(() => joiner.sm.query("k199") === 199, 10_000));
  assert.equal(asked[0], 1, "from its very first entry, before it holds a configuration");
  assert.ok(followers.some((r) => r.served > 0), `served: ${followers.map((r) => r.served)}`);
  assert.equal(joiner.pulled.refused, 0);
  assert.ok(sameLog(joiner, leader));
});

Deno.test("parallel catch-up: a lying peer's ranges are refused and the new member still converges", async () => {
  const { sim, leader } = await withLog(42, 200);
  const [liar, honest] = sim.alive().filter((r) => r !== leader);
  sim.crash(honest.id); // the liar is the only peer to fetch from
  const send = liar.opts.send;
  let lies = 0;
  liar.opts.send = (to, m) => {
    if (m.type !== "Fetched" || !m.entries.length) return send(to, m);
    lies++;
    send(to, { ...m, entries: m.entries.map((e) => ({ ...e, term: e.term + 1 })) });
  };
  sim.add("n3");
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k199") === 199, 10_000));
  assert.ok(lies >= 1, "the liar was asked");
  // Each caught (a lie arriving after its session ended is dropped uncounted).
  assert.ok(joiner.pulled.refused >= 1 && joiner.pulled.refused <= lies);
  assert.ok(sameLog(joiner, leader));
});

Deno.test("parallel catch-up: a peer altering an entry's command (index and term kept) is caught by the leader's digest", async () => {
  const { sim, leader } = await withLog(44, 200);
  const [liar, honest] = sim.alive().filter((r) => r !== leader);
  sim.crash(honest.id); // the liar is the only peer to fetch from
  const send = liar.opts.send;
  let lies = 0;
  liar.opts.send = (to, m) => {
    if (m.type !== "Fetched" || !m.entries.some((e) => e.data)) return send(to, m);
    lies++;
    const entries = m.entries.map((e) => e.data ? { ...e, data: e.data.map((b) => b ^ 1) } : e);
    send(to, { ...m, entries });
  };
  sim.add("n3");
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k199") === 199, 10_000));
  assert.ok(lies >= 1, "the liar was asked");
  // Each caught (a lie arriving after its session ended is dropped uncounted).
  assert.ok(joiner.pulled.refused >= 1 && joiner.pulled.refused <= lies);
  assert.ok(sameLog(joiner, leader));
  for (let i = 0; i < 200; i++) assert.equal(joiner.sm.query(`k${i}`), i);
});

Deno.test("parallel catch-up: a stale peer (without the leader's point) serves a new member nothing", async () => {
  const sim = new Sim({ seed: 43, nodes: 3, replica: { snapshotEvery: 100_000 } });
  assert.ok(await sim.until(() => sim.leader()?.core.config?.voters.length === 3, 5000));
  const leader = sim.leader()!;
  const stale = sim.alive().find((r) => r !== leader)!;
  sim.partition([stale.id], sim.alive().filter((r) => r !== stale).map((r) => r.id));
  let done = 0;
  for (let i = 0; i < 200; i++) {
    leader.execute([["put", `k${i}`, i]]).then(() => done++);
    await sim.run(2);
  }
  assert.ok(await sim.until(() => done === 200, 20_000));
  sim.add("n3"); // it reaches everyone; the stale peer still lacks the writes
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k199") === 199, 10_000));
  assert.equal(stale.served, 0);
  assert.equal(joiner.pulled.refused, 0);
  assert.ok(sameLog(joiner, leader));
});
