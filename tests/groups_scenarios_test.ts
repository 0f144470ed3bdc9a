// Group scenarios over real QUIC and real discovery: bonds, ids, elections,
// rivals, commands and queries, catch-up (tickets: groups_auth_test.ts).
// Rivals never merge logs: one history wins and every member converges on it.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { DEFAULT_GROUP_CONFIG, groupId } from "@mosaik/groups";
import { closeAll, discoverAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";
import { joinCounter, JOINER } from "./groups_harness.ts";

const T_EL = 5000;

Deno.test("bonds: members see exactly their co-members, groups are isolated", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2, 3].map(() => startNode(net)));
  try {
    await discoverAll(n);
    const g1 = [n[0], n[1]].map((x) => joinCounter(x, "group1secret"));
    const g2 = [n[0], n[2], n[3]].map((x) => joinCounter(x, "group2secret"));
    const key3 = crypto.randomUUID();
    const g3 = [n[1], n[2]].map((x) => joinCounter(x, key3));
    const ids = (xs: TestNode[]) => xs.map((x) => x.endpoint.peerId).sort();
    const expect = [
      [g1[0], [n[1]]],
      [g1[1], [n[0]]],
      [g2[0], [n[2], n[3]]],
      [g2[1], [n[0], n[3]]],
      [g2[2], [n[0], n[2]]],
      [g3[0], [n[2]]],
      [g3[1], [n[1]]],
    ] as const;
    await Promise.all(
      expect.map(([g, peers]) =>
        eventually(() => JSON.stringify([...g.bonds].sort()) === JSON.stringify(ids([...peers])), {
          timeout: 5000,
          message: "bonds",
        })
      ),
    );
  } finally {
    await closeAll(n);
  }
});

Deno.test("builder: GroupId from key, state machine name and consensus settings", () => {
  const c = DEFAULT_GROUP_CONFIG;
  const key1 = crypto.randomUUID();
  const key2 = crypto.randomUUID();
  assert.equal(groupId(key1, "counter/v1", c), groupId(key1, "counter/v1", c));
  assert.notEqual(groupId(key1, "counter/v1", c), groupId(key2, "counter/v1", c));
  assert.notEqual(groupId(key1, "counter/v1", c), groupId(key1, "noop/v1", c));
  assert.notEqual(
    groupId(key1, "counter/v1", c),
    groupId(key1, "counter/v1", { ...c, electionTicks: 20 }),
  );
  // Storage and per-member options are not part of the id.
  assert.equal(
    groupId(key1, "counter/v1", { ...c, gracePeriod: 1 } as typeof c),
    groupId(key1, "counter/v1", c),
  );
});

Deno.test("feed smoke: a joiner adopts the leader; commands through the follower", async () => {
  const net = freshNetwork();
  const n0 = await startNode(net);
  const n1 = await startNode(net);
  try {
    const key = crypto.randomUUID();
    const g0 = joinCounter(n0, key);
    await within(g0.when.online(), T_EL);
    await discoverAll([n0, n1]);
    const g1 = joinCounter(n1, key, JOINER);
    await within(g1.when.online(), T_EL);
    assert.ok(g0.isLeader);
    assert.equal(g1.leader, n0.endpoint.peerId);
    const a = await within(g1.execute({ add: 3 }), 2000);
    const b = await within(g1.execute({ add: 4 }), 2000);
    const c = await within(g1.executeMany([{ add: 3 }, { add: 3 }, { add: 2 }]), 2000);
    assert.ok(a.index < b.index && b.index < c.index);
    assert.deepEqual(c.results, [10, 13, 15]);
    await within(g0.when.applied(c.index), T_EL);
    assert.equal(await g0.query(null, { consistency: "weak" }), 15);
    await within(g1.when.applied(c.index), T_EL);
    assert.equal(await g1.query(null, { consistency: "weak" }), 15);
  } finally {
    await closeAll([n0, n1]);
  }
});

Deno.test("leader is elected; joiners adopt it; a stopped leader hands over", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2, 3].map(() => startNode(net)));
  try {
    const key = "secret1";
    const g0 = joinCounter(n[0], key);
    assert.equal(g0.leader, undefined);
    assert.equal(g0.isLeader, false);
    assert.equal(await within(g0.when.leaderElected(), T_EL), n[0].endpoint.peerId);
    assert.ok(g0.isLeader);
    await discoverAll([n[0], n[1]]);
    const g1 = joinCounter(n[1], key, JOINER);
    assert.equal(await within(g1.when.leaderElected(), T_EL), n[0].endpoint.peerId);
    assert.ok(!g1.isLeader);
    await discoverAll([n[0], n[1], n[2]]);
    const g2 = joinCounter(n[2], key, JOINER);
    assert.equal(await within(g2.when.leaderElected(), T_EL), n[0].endpoint.peerId);
    // Wait until all three are voters, so the group survives the leader's stop.
    await eventually(() => g0.members.voters.length === 3, { timeout: T_EL });
    await eventually(() => g1.members.voters.length === 3 && g2.members.voters.length === 3, {
      timeout: T_EL,
    });
    const c1 = g1.when.leaderChanged();
    const c2 = g2.when.leaderChanged();
    await n[0].close(); // stopping is not leaving: the leader hands over first
    const [l1, l2] = await within(Promise.all([c1, c2]), T_EL);
    assert.equal(l1, l2);
    assert.equal([g1, g2].filter((g) => g.isLeader).length, 1);
    assert.equal(g1.members.voters.length, 3, "stopping did not change the configuration");
    await discoverAll([n[1], n[2], n[3]]);
    const g3 = joinCounter(n[3], key, JOINER);
    assert.equal(await within(g3.when.leaderElected(), T_EL), l1);
    assert.ok(!g3.isLeader);
  } finally {
    await closeAll(n);
  }
});

Deno.test("rivals with the same log position converge on one leader and one history", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const g = n.map((x) => joinCounter(x, key));
    for (const x of g) await within(eventually(() => x.isLeader), T_EL);
    // A loser may reset twice (into a second loser, then into the winner) when
    // three incarnations meet in an unlucky order: count members, not resets.
    const reset = new Set<number>();
    for (const [i, x] of g.entries()) x.onReset(() => reset.add(i));
    await discoverAll(n);
    const leader = await within(
      eventually(() => {
        const l = g[0].leader;
        return l && g.every((x) => x.leader === l && x.members.voters.length === 3) ? l : undefined;
      }),
      10_000,
    );
    assert.equal(g.filter((x) => x.isLeader).length, 1);
    assert.ok(g.every((x) => x.leader === leader));
    assert.equal(reset.size, 2, "the members of the two losing incarnations reset");
  } finally {
    await closeAll(n);
  }
});

Deno.test("rivals holding writes stay apart and report the conflict; one without writes joins; resolve() merges", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const g0 = joinCounter(n[0], key);
    await within(eventually(() => g0.isLeader), T_EL);
    // Three entries (executeMany would write one atomic entry).
    for (const [inc, total] of [[3, 3], [2, 5], [1, 6]]) {
      assert.equal((await within(g0.execute({ add: inc }), 2000)).result, total);
    }
    const g1 = joinCounter(n[1], key);
    await within(eventually(() => g1.isLeader), T_EL);
    assert.equal((await within(g1.execute({ add: 1 }), 3000)).result, 1);
    const g2 = joinCounter(n[2], key);
    await within(eventually(() => g2.isLeader), T_EL);
    const discarded = new Map<string, number>();
    g0.onReset((e) => discarded.set("g0", e.discarded));
    g1.onReset((e) => discarded.set("g1", e.discarded));
    g2.onReset(() => discarded.set("g2", 0));
    const conflicts: string[] = [];
    g0.onConflict((e) => conflicts.push(`g0:${e.theirs}`));
    g1.onConflict((e) => conflicts.push(`g1:${e.theirs}`));
    await discoverAll(n);
    // g2 held no write: it joins one of the others. g0 and g1 both hold
    // acknowledged writes: neither is discarded, both report the conflict.
    await within(
      eventually(() => discarded.has("g2") && g0.conflicts.length > 0 && g1.conflicts.length > 0),
      20_000,
    );
    assert.deepEqual(g0.conflicts, [g1.incarnation]);
    assert.deepEqual(g1.conflicts, [g0.incarnation]);
    assert.ok(
      conflicts.includes(`g0:${g1.incarnation}`) && conflicts.includes(`g1:${g0.incarnation}`),
    );
    assert.ok(g0.metrics.conflicts >= 1 && g1.metrics.conflicts >= 1);
    assert.equal(await g0.query(null, { consistency: "weak" }), 6);
    assert.equal(await g1.query(null, { consistency: "weak" }), 1);
    assert.ok(!discarded.has("g0") && !discarded.has("g1"));
    // The operator keeps g0's history: g1 discards its own and rejoins.
    const winner = g0.incarnation!;
    g0.resolve(winner);
    for (const g of [g1, g2]) if (g.incarnation !== winner) g.resolve(winner);
    const all = [g0, g1, g2];
    await within(
      eventually(
        async () =>
          (await Promise.all(all.map((g) => g.query(null, { consistency: "weak" })))).every((v) =>
            v === 6
          ),
        { timeout: 20_000 },
      ),
      20_000,
    );
    assert.equal(await g1.query(null, { consistency: "strong" }), 6);
    assert.ok((discarded.get("g1") ?? 0) >= 1, "g1 reported the entries it discarded");
    assert.deepEqual(g0.conflicts, []);
  } finally {
    await closeAll(n);
  }
});

async function threeOnline(
  key: string,
  simultaneous = false,
): Promise<{ n: TestNode[]; g: ReturnType<typeof joinCounter>[] }> {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
  if (simultaneous) {
    await discoverAll(n);
    const g = n.map((x) => joinCounter(x, key, { bootstrapExpect: 3 }));
    await within(Promise.all(g.map((x) => x.when.online())), T_EL);
    return { n, g };
  }
  const g0 = joinCounter(n[0], key);
  await within(g0.when.online(), T_EL);
  await discoverAll(n);
  const g = [g0, joinCounter(n[1], key, JOINER), joinCounter(n[2], key, JOINER)];
  await within(Promise.all(g.map((x) => x.when.online())), T_EL);
  await within(eventually(() => g0.members.voters.length === 3), T_EL);
  return { n, g };
}

Deno.test("execute with weak queries; failover keeps the index sequence", async () => {
  const { n, g } = await threeOnline(crypto.randomUUID());
  try {
    assert.ok(g[0].isLeader);
    await within(g[0].execute({ add: 3 }), 2000);
    const r = await within(g[0].execute({ add: 4 }), 2000);
    assert.equal(await g[0].query(null, { consistency: "strong" }), 7);
    await within(Promise.all([g[1].when.applied(r.index), g[2].when.applied(r.index)]), 2000);
    assert.equal(await g[1].query(null, { consistency: "weak" }), 7);
    assert.equal(await g[2].query(null, { consistency: "weak" }), 7);
    const d = await within(g[1].execute({ add: -2 }), 2000);
    assert.equal(d.result, 5);
    await within(Promise.all(g.map((x) => x.when.applied(d.index))), 2000);
    const c1 = g[1].when.leaderChanged();
    const c2 = g[2].when.leaderChanged();
    await n[0].close();
    const [l1, l2] = await within(Promise.all([c1, c2]), T_EL);
    assert.equal(l1, l2);
    const a = await within(g[1].executeMany([{ add: 10 }, { add: -2 }, { add: 3 }]), 5000);
    const b = await within(g[2].executeMany([{ add: 20 }, { add: -4 }, { add: -1 }]), 5000);
    assert.ok(b.index > a.index);
    await within(Promise.all([g[1].when.applied(b.index), g[2].when.applied(b.index)]), 2000);
    assert.equal(await g[1].query(null, { consistency: "weak" }), 31);
    assert.equal(await g[2].query(null, { consistency: "weak" }), 31);
  } finally {
    await closeAll(n);
  }
});

Deno.test("strong queries on a follower are forwarded (a real round trip), weak ones are local", async () => {
  const { n, g } = await threeOnline(crypto.randomUUID());
  try {
    await within(g[0].execute({ add: 3 }), 2000);
    const r = await within(g[0].execute({ add: 4 }), 2000);
    await within(g[1].when.applied(r.index), 2000);
    const time = async (f: () => Promise<unknown>) => {
      const t = performance.now();
      assert.equal(await f(), 7);
      return performance.now() - t;
    };
    let strongFollower = 0, weakFollower = 0;
    for (let i = 0; i < 5; i++) {
      strongFollower += await time(() => g[1].query(null, { consistency: "strong" }));
      weakFollower += await time(() => g[1].query(null, { consistency: "weak" }));
      await time(() => g[0].query(null, { consistency: "strong" }));
    }
    assert.ok(strongFollower > weakFollower, `${strongFollower} > ${weakFollower}`);
  } finally {
    await closeAll(n);
  }
});

Deno.test("concurrent execute, executeMany and queries from two members", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    await discoverAll(n);
    const key = crypto.randomUUID();
    const [g0, g1] = n.map((x) => joinCounter(x, key));
    await within(Promise.all([g0.when.online(), g1.when.online()]), T_EL);
    const rs = await within(
      Promise.all([
        ...[1, 2, 3, 4, 5].map((i) => g0.execute({ add: i })),
        ...[10, 11, 12, 13, 14].map((i) => g1.execute({ add: i })),
      ]),
      5000,
    );
    const top = Math.max(...rs.map((r) => r.index));
    await within(Promise.all([g0.when.applied(top), g1.when.applied(top)]), 2000);
    assert.equal(await g0.query(null, { consistency: "weak" }), 75);
    const many = await within(
      Promise.all([
        g0.executeMany([{ add: 1 }, { add: 2 }, { add: 3 }]),
        g0.executeMany([{ add: -1 }, { add: 5 }]),
        g1.executeMany([{ add: 10 }, { add: 20 }]),
        g1.executeMany([{ add: -5 }, { add: 15 }]),
      ]),
      5000,
    );
    const top2 = Math.max(...many.map((r) => r.index));
    await within(Promise.all([g0.when.applied(top2), g1.when.applied(top2)]), 2000);
    assert.equal(await g0.query(null, { consistency: "weak" }), 125);
    const qs = await within(
      Promise.all([
        ...[0, 1, 2].map(() => g0.query(null, { consistency: "weak" })),
        ...[0, 1, 2].map(() => g1.query(null, { consistency: "weak" })),
        ...[0, 1, 2].map(() => g0.query(null, { consistency: "strong" })),
        ...[0, 1, 2].map(() => g1.query(null, { consistency: "strong" })),
      ]),
      5000,
    );
    assert.ok(qs.every((v) => v === 125), JSON.stringify(qs));
  } finally {
    await closeAll(n);
  }
});

Deno.test("catch-up: a late follower receives the history", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const g0 = joinCounter(n[0], key);
    await within(g0.when.online(), T_EL);
    await within(g0.execute({ add: 3 }), 2000);
    const r = await within(g0.executeMany([{ add: 4 }, { add: -2 }, { add: 1 }]), 2000);
    assert.equal(await g0.query(null, { consistency: "weak" }), 6);
    const g1 = joinCounter(n[1], key, JOINER);
    await discoverAll(n);
    assert.equal(await within(g1.when.leaderElected(), T_EL), n[0].endpoint.peerId);
    await within(g1.when.applied(r.index), 10_000);
    assert.equal(await g1.query(null, { consistency: "weak" }), 6);
    const r2 = await within(g0.executeMany([{ add: 5 }, { add: -3 }]), 2000);
    await within(g1.when.applied(r2.index), 2000);
    assert.equal(await g1.query(null, { consistency: "weak" }), 8);
  } finally {
    await closeAll(n);
  }
});

for (const batch of [7, 20, 100, 1000]) {
  Deno.test(`catch-up of 400 entries with ${batch} entries per message, from a leader and a peer`, async () => {
    const net = freshNetwork();
    const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
    try {
      const key = crypto.randomUUID();
      const cfg = { maxEntriesPerMsg: batch, catchUpGap: 16 };
      const g0 = joinCounter(n[0], key, cfg);
      await within(g0.when.online(), T_EL);
      // One call at a time: 200 log entries (concurrent calls would share entries).
      let last = 0;
      for (let i = 0; i < 200; i++) last = (await g0.execute({ add: i })).index;
      assert.ok(last >= 200);
      const g1 = joinCounter(n[1], key, { ...cfg, ...JOINER });
      await discoverAll([n[0], n[1]]);
      assert.equal(await within(g1.when.leaderElected(), T_EL), n[0].endpoint.peerId);
      await within(g1.when.applied(last), 20_000);
      assert.equal(await g1.query(null, { consistency: "weak" }), 19900);
      let top = 0;
      for (let i = 0; i < 200; i++) top = (await g1.execute({ add: i })).index;
      await within(g0.when.applied(top), 20_000);
      const g2 = joinCounter(n[2], key, { ...cfg, ...JOINER });
      await discoverAll(n);
      await within(g2.when.applied(top), 20_000);
      for (const g of [g0, g1, g2]) {
        assert.equal(await g.query(null, { consistency: "weak" }), 39800);
      }
    } finally {
      await closeAll(n);
    }
  });
}

Deno.test("snapshots over the wire: a late member installs the leader's snapshot; a learner replicates without voting", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const cfg = { snapshotEvery: 20 };
    const g0 = joinCounter(n[0], key, cfg);
    await within(g0.when.online(), T_EL);
    let top = 0;
    for (let i = 0; i < 100; i++) top = (await g0.execute({ add: 1 })).index;
    await discoverAll(n);
    const g1 = joinCounter(n[1], key, { ...cfg, ...JOINER });
    const g2 = joinCounter(n[2], key, { ...cfg, learner: true });
    await within(Promise.all([g1.when.applied(top), g2.when.applied(top)]), T_EL);
    assert.equal(await g1.query(null, { consistency: "weak" }), 100);
    assert.equal(await g2.query(null, { consistency: "strong" }), 100);
    await within(eventually(() => g0.members.learners.includes(n[2].endpoint.peerId)), T_EL);
    await within(eventually(() => g0.members.voters.includes(n[1].endpoint.peerId)), T_EL);
    assert.ok(!g0.members.voters.includes(n[2].endpoint.peerId), "a learner never votes");
    assert.equal((await within(g2.execute({ add: 1 }), 2000)).result, 101);
  } finally {
    await closeAll(n);
  }
});
