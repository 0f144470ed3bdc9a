// Safety anomalies known from Raft implementations, each provoked over real
// QUIC (faults injected with endpoint.faults) and shown absent: split brain,
// a cut-off minority deposing the leader, lost acknowledged entries, votes
// forgotten on restart, writes acknowledged before a majority holds them.
// (Divergent logs of rival bootstraps: groups_scenarios_test.ts; Figure 8 and
// misplaced appends: groups/raft_test.ts.)
import assert from "node:assert/strict";
import { Endpoint, SecretKey } from "@mosaik/transport";
import { eventually, quietPeriod, within } from "@mosaik/transport/testing";
import { FileStorage, type Group, GroupOfflineError, Groups, TimeoutError } from "@mosaik/groups";
import { Counter, type CounterCommand } from "@mosaik/groups/testing";
import { discoverAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";
import { joinCounter, JOINER } from "./groups_harness.ts";

const T_EL = 5000;

function isolate(nodes: TestNode[], victim: TestNode): void {
  for (const n of nodes) {
    if (n === victim) continue;
    n.endpoint.faults.block(victim.endpoint.peerId);
    victim.endpoint.faults.block(n.endpoint.peerId);
  }
}

function heal(nodes: TestNode[]): void {
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.endpoint.faults.unblock(b.endpoint.peerId);
  }
}

async function threeMembers(
  config = {},
): Promise<{ n: TestNode[]; g: Group<CounterCommand, number, unknown, number>[] }> {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2].map(() => startNode(net)));
  await discoverAll(n);
  const key = crypto.randomUUID();
  const g = n.map((x) => joinCounter(x, key, { bootstrapExpect: 3, ...config }));
  await within(Promise.all(g.map((x) => x.when.online())), T_EL);
  await within(eventually(() => g.every((x) => x.members.voters.length === 3)), T_EL);
  return { n, g };
}

Deno.test("split brain: an isolated leader steps down, never acknowledges, never serves a stale strong read", async () => {
  const { n, g } = await threeMembers({ commandTimeout: 1500 });
  try {
    const li = g.findIndex((x) => x.isLeader);
    const old = g[li];
    const rest = g.filter((_, i) => i !== li);
    await within(old.execute({ add: 1 }), 2000);
    isolate(n, n[li]);
    const minorityWrite = old.execute({ add: 100 });
    const minorityRead = old.query(null, { consistency: "strong" });
    // CheckQuorum: the old leader steps down within about an election timeout.
    await within(eventually(() => !old.isLeader), 2000);
    // The majority elects a leader and commits.
    await within(eventually(() => rest.some((x) => x.isLeader)), T_EL);
    const w = await within(rest[0].execute({ add: 10 }), 3000);
    assert.equal(w.result, 11);
    await assert.rejects(
      minorityWrite,
      (e) => e instanceof TimeoutError || e instanceof GroupOfflineError,
    );
    await assert.rejects(
      minorityRead,
      (e) => e instanceof TimeoutError || e instanceof GroupOfflineError,
    );
    heal(n);
    await within(old.when.applied(w.index), T_EL);
    assert.equal(await old.query(null, { consistency: "strong" }), 11);
    for (const x of g) assert.equal(await x.query(null, { consistency: "weak" }), 11);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("a minority node that was cut off cannot depose the majority leader (PreVote)", async () => {
  const { n, g } = await threeMembers();
  try {
    const li = g.findIndex((x) => x.isLeader);
    const fi = (li + 1) % 3;
    const term = g[li].metrics.term;
    isolate(n, n[fi]);
    await quietPeriod(1500); // several election timeouts in isolation
    assert.equal(g[fi].metrics.term, term, "PreVote: the isolated member did not raise its term");
    const w = await within(g[li].execute({ add: 5 }), 2000);
    heal(n);
    await within(g[fi].when.applied(w.index), T_EL);
    assert.ok(g[li].isLeader, "the majority leader kept its leadership");
    assert.equal(g[li].metrics.term, term);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("acknowledged entries survive partitions and leader changes on every member", async () => {
  const { n, g } = await threeMembers({ commandTimeout: 2000 });
  try {
    let acked = 0;
    for (let round = 0; round < 3; round++) {
      const li = g.findIndex((x) => x.isLeader);
      const writes = await Promise.allSettled(g.map((x) => x.execute({ add: 1 })));
      acked += writes.filter((r) => r.status === "fulfilled").length;
      isolate(n, n[li]);
      await within(eventually(() => g.some((x, i) => i !== li && x.isLeader)), T_EL);
      heal(n);
      await within(eventually(() => g.every((x) => x.online)), T_EL);
    }
    const top = Math.max(...g.map((x) => x.metrics.commitIndex));
    await within(Promise.all(g.map((x) => x.when.applied(top))), T_EL);
    const values = await Promise.all(g.map((x) => x.query(null, { consistency: "weak" })));
    assert.ok(values.every((v) => v === values[0] && v >= acked), `${values} >= ${acked}`);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("durable term, vote and log: a restarted member keeps them and never votes twice", async () => {
  const net = freshNetwork();
  const dir = await Deno.makeTempDir({ prefix: "groups-durable-" });
  const key = crypto.randomUUID();
  const secret = SecretKey.generate();
  const others = await Promise.all([0, 1].map(() => startNode(net)));
  const start = async () => {
    const endpoint = await Endpoint.create({ networkId: net, secretKey: secret });
    const groups = new Groups(endpoint);
    const group = groups.join({
      key,
      stateMachine: new Counter(),
      storage: FileStorage.open(dir),
      config: { peers: others.map((o) => o.endpoint.address), bootstrapExpect: 3 },
    });
    return { endpoint, groups, group };
  };
  try {
    let me = await start();
    await discoverAll(others);
    const g = others.map((o) =>
      joinCounter(o, key, { peers: [me.endpoint.address], bootstrapExpect: 3 })
    );
    await within(Promise.all([me.group.when.online(), ...g.map((x) => x.when.online())]), T_EL);
    await within(eventually(() => me.group.members.voters.length === 3), T_EL);
    const r = await within(me.group.execute({ add: 42 }), 2000);
    const term = me.group.metrics.term;
    await me.groups.close();
    await me.endpoint.close();
    me = await start(); // a new port: it dials the others itself
    assert.ok(me.group.metrics.term >= term, "term survived the restart");
    assert.ok(me.group.metrics.lastIndex >= r.index, "log survived the restart");
    await within(me.group.when.applied(r.index), T_EL);
    assert.equal(await me.group.query(null, { consistency: "weak" }), 42);
    await me.groups.close();
    await me.endpoint.close();
  } finally {
    await Promise.all(others.map((o) => o.close()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two members: an acknowledged write is on both before success", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const g0 = joinCounter(n[0], key, { commandTimeout: 1500 });
    await within(g0.when.online(), T_EL);
    await discoverAll(n);
    const g1 = joinCounter(n[1], key, { commandTimeout: 1500, ...JOINER });
    await within(eventually(() => g0.members.voters.length === 2), T_EL);
    const r = await within(g0.execute({ add: 7 }), 2000);
    // The write needed both voters: the follower holds it even if the leader vanishes now.
    isolate(n, n[0]);
    assert.ok(g1.metrics.lastIndex >= r.index);
    // And the survivor alone cannot commit anything new (no quorum of 2).
    await assert.rejects(
      g1.execute({ add: 1 }),
      (e) => e instanceof TimeoutError || e instanceof GroupOfflineError,
    );
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("joining twice returns handles on one member; closing one keeps the other alive", async () => {
  const net = freshNetwork();
  const n = await startNode(net);
  try {
    const key = crypto.randomUUID();
    const a = joinCounter(n, key);
    const b = joinCounter(n, key);
    assert.equal(a.id, b.id);
    await within(a.when.online(), T_EL);
    await a.close();
    assert.equal((await within(b.execute({ add: 2 }), 2000)).result, 2);
    await b.close();
  } finally {
    await n.close();
  }
});

Deno.test("leave() removes the member through the log", async () => {
  const { n, g } = await threeMembers();
  try {
    const fi = g.findIndex((x) => !x.isLeader);
    const leaver = n[fi].endpoint.peerId;
    await within(g[fi].leave(), T_EL);
    const rest = g.filter((_, i) => i !== fi);
    await within(eventually(() => rest.every((x) => !x.members.voters.includes(leaver))), T_EL);
    assert.equal(rest[0].members.voters.length, 2);
    assert.ok((await within(rest[0].execute({ add: 1 }), 2000)).index > 0);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("absent members are removed after the grace period", async () => {
  const { n, g } = await threeMembers({ gracePeriod: 800 });
  try {
    const fi = g.findIndex((x) => !x.isLeader);
    const gone = n[fi].endpoint.peerId;
    await n[fi].close();
    const rest = g.filter((_, i) => i !== fi);
    await within(eventually(() => rest.every((x) => !x.members.voters.includes(gone))), T_EL);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});
