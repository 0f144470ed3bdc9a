import assert from "node:assert/strict";
import { KV, rng, Sim } from "./_sim.ts";
import type { Envelope, Outgoing, RaftOptions } from "./_messages.ts";
import { RaftCore } from "./_raft.ts";
import type { Snapshot } from "./storage.ts";
import { MemoryStorage } from "./storage.ts";
import { FileStorage } from "./file_storage.ts";
import { NotMemberError, TimeoutError } from "./errors.ts";

const restoredBy = new WeakMap<RaftCore, Snapshot>();

/** Takes the messages a core has ready, remembering a snapshot it must restore. */
function sent(core: RaftCore): Outgoing[] {
  const rd = core.ready();
  if (rd.snapshot) restoredBy.set(core, rd.snapshot);
  return rd.messages;
}

Deno.test("formation: lowest id bootstraps, one leader, commands commit everywhere", async () => {
  const sim = new Sim({ seed: 1, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const leader = sim.leader()!;
  assert.deepEqual([...leader.core.config!.voters].sort(), ["n0", "n1", "n2"]);
  const p = sim.replica("n2").execute([["put", "a", 1], ["add", "c", 5]]);
  let out: { index: number; results: unknown[] } | undefined;
  p.then((v) => out = v);
  assert.ok(await sim.until(() => out !== undefined));
  assert.deepEqual(out!.results, [1, 5]);
  assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= out!.index)));
  for (const n of sim.nodes.values()) assert.equal(n.sm.data.get("c"), 5);
  let read: unknown;
  sim.replica("n1").query("c", true).then((v) => read = v);
  assert.ok(await sim.until(() => read !== undefined));
  assert.equal(read, 5);
});

Deno.test("PreVote + CheckQuorum: an isolated leader steps down and never commits; rejoin does not disrupt", async () => {
  const sim = new Sim({ seed: 4, nodes: 3 });
  assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= 2)));
  const old = sim.leader()!;
  const others = [...sim.nodes.keys()].filter((k) => k !== old.id);
  sim.partition([old.id], others);
  let acked = false;
  let failed: unknown;
  old.execute([["put", "x", "minority"]]).then(() => acked = true, (e) => failed = e);
  assert.ok(await sim.until(() => old.core.role !== "leader", 1000), "old leader stepped down");
  assert.ok(await sim.until(() => sim.leader() !== undefined && sim.leader() !== old));
  const term = sim.leader()!.core.term;
  // The isolated node keeps pre-voting without raising its term.
  await sim.run(2000);
  assert.equal(old.core.term <= term, true);
  sim.heal();
  assert.ok(await sim.until(() => failed !== undefined || acked, 5000));
  // Either it timed out, or it was retried to the new leader and applied exactly once.
  if (acked) {
    assert.ok(await sim.until(() => sim.alive().every((r) => r.sm.query("x") === "minority")));
  } else assert.ok(failed instanceof TimeoutError);
  assert.equal(sim.leader()!.core.term, term, "no disruption after heal");
});

Deno.test("a restarted member never votes twice in a term", () => {
  const storage = new MemoryStorage();
  const boot = new RaftCore("b", new MemoryStorage(), rng(1));
  boot.bootstrap({ cluster: "c", voters: ["a", "b", "c"], learners: [] });
  const voter = new RaftCore("a", storage, rng(2));
  voter.step("b", { type: "Vote", term: 5, lastIndex: 1, lastTerm: 1 });
  assert.deepEqual(
    sent(voter).map((o) => [o.to, o.msg.type, (o.msg as { reject: boolean }).reject]),
    [
      ["b", "VoteR", false],
    ],
  );
  // Crash and restart on the same storage: a rival candidate in term 5 is refused.
  const again = new RaftCore("a", storage, rng(3));
  assert.equal(again.term, 5);
  again.step("c", { type: "Vote", term: 5, lastIndex: 1, lastTerm: 1 });
  assert.deepEqual(
    sent(again).map((o) => [o.to, o.msg.type, (o.msg as { reject: boolean }).reject]),
    [
      ["c", "VoteR", true],
    ],
  );
});

Deno.test("a member that lost its storage is probed again and cannot elect a stale leader", async () => {
  const sim = new Sim({ seed: 11, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const leader = sim.leader()!;
  let done: { index: number } | undefined;
  leader.execute([["put", "a", 1], ["put", "b", 2]]).then((v) => done = v);
  assert.ok(
    await sim.until(() => done !== undefined && sim.alive().every((r) => r.applied >= done!.index)),
  );
  const victim = [...sim.nodes.keys()].find((k) => k !== leader.id)!;
  // The leader's progress says the victim holds everything; its heartbeat
  // answers reveal the empty log and the leader sends it the log again.
  const blank = new RaftCore(victim, new MemoryStorage(), rng(5));
  blank.step(leader.id, { type: "Hb", term: leader.core.term, commit: leader.core.commit });
  const answer = sent(blank);
  assert.deepEqual(answer.map((o) => [o.msg.type, (o.msg as { last?: number }).last]), [
    ["HbR", 0],
  ]);
  leader.core.step(victim, answer[0].msg);
  const app = sent(leader.core).find((o) => o.to === victim && o.msg.type === "App");
  assert.equal((app?.msg as { prevIndex: number }).prevIndex, 0);
  assert.equal(leader.core.matchIndexes().get(victim), 0);
  // Without a configuration it refuses to vote for a candidate holding more
  // than the bootstrap configuration (it may have acknowledged its entries).
  const voter = new RaftCore(victim, new MemoryStorage(), rng(6));
  voter.step("x", { type: "Vote", term: 9, lastIndex: 2, lastTerm: 1 });
  assert.deepEqual(sent(voter).map((o) => [o.msg.type, (o.msg as { reject: boolean }).reject]), [
    ["VoteR", true],
  ]);
});

Deno.test("snapshots travel in chunks: lost chunks are resent, a corrupted one is never restored", () => {
  const data = Uint8Array.from({ length: 50 }, (_, i) => i);
  const storage = new MemoryStorage();
  storage.setHardState({ term: 1 });
  storage.saveSnapshot({
    index: 7,
    term: 1,
    config: { cluster: "c", voters: ["l"], learners: ["f"] },
    data,
  }, true);
  const opts = { snapshotChunkBytes: 8, electionTicks: 10 };
  const leader = new RaftCore("l", storage, rng(1), opts);
  leader.campaignNow();
  assert.equal(leader.role, "leader");
  const run = (follower: RaftCore, drop: (m: Envelope) => boolean, corrupt = false) => {
    for (let round = 0; round < 200 && follower.commit < 7; round++) {
      leader.tick();
      for (let moved = true; moved;) {
        moved = false;
        for (const o of sent(leader)) {
          if (o.to !== "f" || drop(o.msg)) continue;
          let msg = o.msg;
          if (corrupt && msg.type === "Snap" && msg.offset === 16) {
            const bad = msg.snapshot.data.slice();
            bad[0] ^= 1;
            msg = { ...msg, snapshot: { ...msg.snapshot, data: bad } };
          }
          follower.step("l", msg);
          moved = true;
        }
        for (const o of sent(follower)) leader.step("f", o.msg);
      }
    }
  };
  // Every message is one chunk of at most 8 bytes; the chunk at offset 24 is lost once.
  let dropped = 0;
  const f = new RaftCore("f", new MemoryStorage(), rng(2), opts);
  run(f, (m) => {
    if (m.type === "Snap") assert.ok(m.snapshot.data.byteLength <= 8 && m.total === 50);
    return m.type === "Snap" && m.offset === 24 && dropped++ === 0;
  });
  assert.equal(dropped, 2, "the lost chunk was sent again");
  assert.ok(f.commit >= 7);
  assert.deepEqual(restoredBy.get(f)?.data, data);
  // A chunk corrupted in transit every time: the CRC check refuses to restore.
  const g = new RaftCore("f", new MemoryStorage(), rng(3), opts);
  run(g, () => false, true);
  assert.equal(g.commit, 0);
  assert.equal(restoredBy.get(g), undefined);
});

/**
 * Member "a" of a, b, c after term 3, holding an entry of term 2 at index 2,
 * once it has won the pre-vote of term 4 (the vote is up to the test).
 */
function preCandidateWithOldEntry(options: Partial<RaftOptions> = {}): RaftCore {
  const s = new MemoryStorage();
  s.setHardState({ term: 3 });
  s.append([
    { index: 1, term: 1, type: 2, config: { cluster: "c", voters: ["a", "b", "c"], learners: [] } },
    { index: 2, term: 2, type: 1, data: new Uint8Array([1]) },
  ]);
  const a = new RaftCore("a", s, rng(1), { electionTicks: 10, ...options });
  for (let i = 0; i < 30 && a.role !== "precandidate"; i++) a.tick();
  a.step("b", { type: "PreVoteR", term: 4, reject: false });
  return a;
}

Deno.test("leader commits only current-term entries (Figure 8)", () => {
  // Leader in term 4 holds an entry of term 2 at index 2 replicated to a majority;
  // it must not commit index 2 until an entry of term 4 is replicated.
  const a = preCandidateWithOldEntry();
  assert.equal(a.role, "candidate");
  a.step("b", { type: "VoteR", term: 4, reject: false });
  assert.equal(a.role, "leader");
  sent(a);
  // b acknowledges only up to index 2 (the old-term entry).
  a.step("b", { type: "AppR", term: 4, index: 2, reject: false, hint: 0, hintTerm: 0 });
  assert.equal(a.commit, 0);
  a.step("b", { type: "AppR", term: 4, index: 3, reject: false, hint: 0, hintTerm: 0 });
  assert.equal(a.commit, 3);
});

Deno.test("lazy commit notices: an idle follower hears of a commit on announceCommit, once", () => {
  const appends = (core: RaftCore) =>
    sent(core).filter((o) => o.msg.type === "App").map((o) => {
      const m = o.msg as { commit: number; entries: unknown[] };
      return [o.to, m.commit, m.entries.length];
    });
  for (const lazy of [false, true]) {
    const a = preCandidateWithOldEntry({ lazyCommitNotice: lazy });
    a.step("b", { type: "VoteR", term: 4, reject: false });
    a.advance();
    sent(a);
    // b acknowledges the no-op (index 3) and has nothing more to receive; c is paused.
    a.step("b", { type: "AppR", term: 4, index: 3, reject: false, hint: 0, hintTerm: 0 });
    assert.equal(a.commit, 3);
    if (!lazy) {
      assert.deepEqual(appends(a), [["b", 3, 0]]);
      assert.equal(a.leader!.commitNoticeDue, false);
      continue;
    }
    assert.deepEqual(appends(a), []);
    assert.equal(a.leader!.commitNoticeDue, true);
    a.leader!.announceCommit();
    assert.deepEqual(appends(a), [["b", 3, 0]]);
    assert.equal(a.leader!.commitNoticeDue, false);
    a.leader!.announceCommit();
    assert.deepEqual(appends(a), [], "b was already sent this commit index");
  }
});

Deno.test("ReadIndex waits for the new leader's first commit of its term", () => {
  // A new leader of term 4 does not know the commit index until its no-op
  // commits: a read answered before that could miss acknowledged writes.
  const a = preCandidateWithOldEntry();
  a.step("b", { type: "VoteR", term: 4, reject: false });
  assert.equal(a.role, "leader");
  a.advance();
  sent(a);
  a.readIndex("r1");
  // A heartbeat quorum alone answers nothing yet.
  a.step("b", { type: "HbR", term: 4, ctx: "r1" });
  assert.deepEqual(a.ready().readStates, []);
  // The no-op (index 3) commits; the read is confirmed by a heartbeat round at that point.
  a.step("b", { type: "AppR", term: 4, index: 3, reject: false, hint: 0, hintTerm: 0 });
  assert.equal(a.commit, 3);
  a.step("b", { type: "HbR", term: 4, ctx: "r1" });
  assert.deepEqual(a.ready().readStates, [{ ctx: "r1", index: 3 }]);
});

Deno.test("a follower never truncates committed entries; conflicting suffix replaced", () => {
  const s = new MemoryStorage();
  s.append([
    { index: 1, term: 1, type: 2, config: { cluster: "c", voters: ["a", "b", "c"], learners: [] } },
    { index: 2, term: 2, type: 1, data: new Uint8Array([2]) },
    { index: 3, term: 2, type: 1, data: new Uint8Array([3]) },
  ]);
  s.setHardState({ term: 2 });
  const f = new RaftCore("c", s, rng(1));
  f.step("a", {
    type: "App",
    term: 3,
    prevIndex: 1,
    prevTerm: 1,
    entries: [{ index: 2, term: 3, type: 0 }],
    commit: 2,
  });
  assert.equal(f.lastIndex, 2);
  assert.equal(f.termAt(2), 3);
  assert.equal(f.commit, 2);
  assert.equal(sent(f).at(-1)!.msg.type, "AppR");
  // Stale leader of term 2 cannot reach us any more.
  f.step("b", {
    type: "App",
    term: 2,
    prevIndex: 1,
    prevTerm: 1,
    entries: [{ index: 2, term: 2, type: 0 }],
    commit: 2,
  });
  assert.equal(f.termAt(2), 3);
});

Deno.test("membership: a new member is added as learner, promoted, and left members are removed", async () => {
  const sim = new Sim({ seed: 5, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  for (let i = 0; i < 20; i++) {
    sim.replica("n0").execute([["put", `k${i}`, i]]);
  }
  await sim.run(1000);
  sim.add("n3");
  assert.ok(
    await sim.until(() => sim.leader()?.core.config?.voters.includes("n3") ?? false, 5000),
    "n3 promoted",
  );
  assert.ok(await sim.until(() => sim.replica("n3").sm.query("k19") === 19));
  let left = false;
  sim.replica("n1").leave().then(() => left = true);
  assert.ok(await sim.until(() => left, 5000));
  const cfg = sim.leader()!.core.config!;
  assert.ok(!cfg.voters.includes("n1") && !cfg.learners.includes("n1"));
  sim.crash("n1");
  const l = sim.leader()!;
  let r: unknown;
  l.execute([["put", "after", 1]]).then((v) => r = v);
  assert.ok(await sim.until(() => r !== undefined));
});

Deno.test("absent members are removed after the grace period, one at a time", async () => {
  const sim = new Sim({ seed: 6, nodes: 5, replica: { graceTicks: 100 } });
  assert.ok(await sim.until(() => sim.leader()?.core.config?.voters.length === 5));
  const leader = sim.leader()!;
  const gone = [...sim.nodes.keys()].filter((k) => k !== leader.id).slice(0, 2);
  for (const g of gone) sim.crash(g);
  assert.ok(await sim.until(() => sim.leader()?.core.config?.voters.length === 3, 10_000));
  for (const g of gone) assert.ok(!sim.leader()!.core.config!.voters.includes(g));
});

Deno.test("snapshots: a member that missed compacted entries gets InstallSnapshot", async () => {
  const sim = new Sim({ seed: 7, nodes: 3, replica: { snapshotEvery: 5 } });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const lagging = [...sim.nodes.keys()].find((k) => k !== sim.leader()!.id)!;
  sim.crash(lagging);
  const l = sim.leader()!;
  let done = 0;
  for (let i = 0; i < 120; i++) {
    l.execute([["put", `k${i}`, i]]).then(() => done++);
    await sim.run(3); // separate entries (calls in one burst share an entry)
  }
  assert.ok(await sim.until(() => done === 120, 20_000));
  assert.ok(l.core.firstIndex > 5, "leader compacted its log");
  sim.start(lagging);
  assert.ok(await sim.until(() => sim.replica(lagging).sm.query("k119") === 119, 10_000));
  assert.equal(sim.nodes.get(lagging)!.sm.data.size, 120);
});

Deno.test("exactly once: a retried command is applied once", async () => {
  let applies = 0;
  const sim = new Sim({
    seed: 8,
    nodes: 3,
    onApply: (node, _i, cmd) => {
      if (node === "n0" && (cmd as string[])[1] === "ctr") applies++;
    },
    replica: { retryTicks: 1 }, // resubmits aggressively: many duplicate proposals
  });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  let out: { results: unknown[] } | undefined;
  sim.replica("n2").execute([["add", "ctr", 1]]).then((v) => out = v);
  assert.ok(await sim.until(() => out !== undefined));
  await sim.run(500);
  assert.equal(applies, 1);
  assert.equal(sim.replica("n0").sm.query("ctr"), 1);
});

Deno.test("leadership transfer and preference never", async () => {
  const sim = new Sim({ seed: 9, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const old = sim.leader()!;
  old.core.transferLeadership();
  assert.ok(await sim.until(() => sim.leader() !== undefined && sim.leader() !== old, 1000));
  const never = new Sim({ seed: 10, nodes: 3, replica: { raft: { preference: "never" } } });
  await never.run(3000);
  assert.equal(never.leader(), undefined);
});

Deno.test("not-a-member: a removed node refuses execute", async () => {
  const sim = new Sim({ seed: 12, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const f = [...sim.nodes.keys()].find((k) => k !== sim.leader()!.id)!;
  let left = false;
  sim.replica(f).leave().then(() => left = true);
  assert.ok(await sim.until(() => left));
  // The leaver learns its removal from the log (it was replicated before it was dropped) or not at all.
  await sim.run(200);
  if (!sim.replica(f).core.isMember) {
    await assert.rejects(sim.replica(f).execute([["put", "z", 1]]), NotMemberError);
  }
});

Deno.test("KV state machine snapshot round trip", () => {
  const kv = new KV();
  kv.apply(["put", "a", 1], { index: 1, term: 1, offset: 0 });
  const k2 = new KV();
  k2.restore(kv.snapshot());
  assert.equal(k2.query("a"), 1);
});

Deno.test("parallel catch-up: a lagging member fetches the gap from several peers", async () => {
  const sim = new Sim({ seed: 21, nodes: 4, replica: { snapshotEvery: 100_000 } });
  assert.ok(await sim.until(() => sim.leader()?.core.config?.voters.length === 4, 5000));
  const l = sim.leader()!;
  const lagging = [...sim.nodes.keys()].find((k) => k !== l.id)!;
  sim.crash(lagging);
  let done = 0;
  for (let i = 0; i < 200; i++) {
    l.execute([["put", `k${i}`, i]]).then(() => done++);
    await sim.run(2);
  }
  assert.ok(await sim.until(() => done === 200, 20_000));
  sim.start(lagging);
  assert.ok(await sim.until(() => sim.replica(lagging).sm.query("k199") === 199, 10_000));
  const servedByFollowers = sim.alive().filter((r) => r.id !== l.id && r.id !== lagging)
    .reduce((n, r) => n + r.served, 0);
  assert.ok(servedByFollowers > 0, "followers served part of the gap");
  assert.equal(sim.nodes.get(lagging)!.sm.data.size, 200);
});

Deno.test("a reluctant member lets others lead", async () => {
  for (let seed = 30; seed < 35; seed++) {
    const sim = new Sim({ seed, nodes: 1, replica: { bootstrapExpect: 3 } });
    sim.add("n1");
    const reluctant = sim.add("n2", false);
    sim.start(reluctant.id).core.opts.preference = "reluctant";
    assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= 2), 5000));
    sim.crash(sim.leader()!.id);
    assert.ok(await sim.until(() => sim.leader() !== undefined, 10_000));
    // With two left, the reluctant one only leads if the other never campaigns first.
    assert.ok(sim.alive().some((r) => r.core.role === "leader"));
  }
});

Deno.test("a member restarted on the file store keeps its vote (never votes twice in a term)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "groups-vote-" });
  try {
    const first = FileStorage.open(dir);
    const voter = new RaftCore("a", first, rng(2));
    voter.step("b", { type: "Vote", term: 7, lastIndex: 0, lastTerm: 0 });
    assert.equal((sent(voter)[0].msg as { reject: boolean }).reject, false);
    first.close(); // crash: nothing else is written
    const second = FileStorage.open(dir);
    const again = new RaftCore("a", second, rng(3));
    assert.deepEqual([again.term, again.vote], [7, "b"]);
    again.step("c", { type: "Vote", term: 7, lastIndex: 5, lastTerm: 3 });
    assert.equal((sent(again)[0].msg as { reject: boolean }).reject, true);
    again.step("b", { type: "Vote", term: 7, lastIndex: 0, lastTerm: 0 });
    assert.equal(
      (sent(again)[0].msg as { reject: boolean }).reject,
      false,
      "the same candidate may ask again",
    );
    second.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a snapshot our log already holds is answered with the commit index, not the last index", () => {
  const s = new MemoryStorage();
  s.setHardState({ term: 1 });
  const config = { cluster: "c", voters: ["l", "f"], learners: [] };
  s.append([
    { index: 1, term: 1, type: 2, config },
    { index: 2, term: 1, type: 0 },
    { index: 3, term: 1, type: 0 }, // may conflict with the leader's log
  ]);
  const f = new RaftCore("f", s, rng(1));
  const snapshot = { index: 2, term: 1, config, data: new Uint8Array() };
  f.step("l", { type: "Snap", term: 2, snapshot, offset: 0, total: 0, crc: 0 });
  const answer = sent(f).find((o) => o.msg.type === "AppR")!.msg as { index: number };
  assert.equal(f.commit, 2);
  assert.equal(answer.index, 2);
});
