// Safety rules of the Raft core that the seeded chaos runs reach too rarely
// to guard on their own (each is the target of a mutant in tests/_mutants.ts):
// stale-term appends, the leader's own unwritten entries, configuration
// changes of a leader that has not committed in its term yet, the
// up-to-date check of votes and a candidate's own vote written before it asks.
import assert from "node:assert/strict";
import { rng, Sim } from "./_sim.ts";
import { RaftCore } from "./_raft.ts";
import { type Entry, MemoryStorage } from "./storage.ts";

const config = { cluster: "c", voters: ["a", "b", "c"], learners: [] };

/** A core of `id` on a log holding `entries` at `term`. */
function core(id: string, term: number, entries: Entry[]): RaftCore {
  const s = new MemoryStorage();
  s.append(entries);
  s.setHardState({ term });
  return new RaftCore(id, s, rng(1), { electionTicks: 10 });
}

/** `a` elected leader of term `term + 1` by `b`'s vote, after `b` told it its commit index. */
function leader(term: number, entries: Entry[]): RaftCore {
  const a = core("a", term, entries);
  const last = entries[entries.length - 1];
  a.step("b", { type: "Hb", term, commit: last.index });
  assert.equal(a.commit, last.index);
  for (let i = 0; i < 30 && a.role !== "precandidate"; i++) a.tick();
  a.step("b", { type: "PreVoteR", term: term + 1, reject: false });
  a.step("b", { type: "VoteR", term: term + 1, reject: false });
  assert.equal(a.role, "leader");
  a.ready();
  return a;
}

Deno.test("a follower refuses appends of an older term, even above its commit index", () => {
  const f = core("c", 3, [
    { index: 1, term: 1, type: 2, config },
    { index: 2, term: 3, type: 1, data: new Uint8Array([3]) },
  ]);
  assert.equal(f.commit, 0);
  f.step("b", {
    type: "App",
    term: 2,
    prevIndex: 1,
    prevTerm: 1,
    entries: [{ index: 2, term: 2, type: 1, data: new Uint8Array([2]) }],
    commit: 1,
  });
  assert.equal(f.termAt(2), 3, "the entry of the newer term stays");
  assert.equal(f.term, 3);
  assert.notEqual(f.lead, "b");
  const answers = f.ready().messages.filter((o) => o.to === "b");
  assert.ok(answers.every((o) => o.msg.term === 3), "the stale leader learns the newer term");
});

Deno.test("a leader counts its own entries toward commit only once they are written", async () => {
  // A single voter commits alone: an acknowledgement before the write would
  // be lost by a crash between the two.
  const sim = new Sim({ seed: 3, nodes: 1, fsync: [30, 30] });
  assert.ok(await sim.until(() => (sim.leader()?.applied ?? 0) > 0));
  const n0 = sim.replica("n0");
  let acked = false;
  n0.execute([["put", "k", "v"]]).then(() => {
    acked = true;
    sim.crash("n0"); // right after the acknowledgement, before anything else runs
  });
  assert.ok(await sim.until(() => acked, 1000));
  sim.start("n0");
  assert.ok(await sim.until(() => sim.leader() !== undefined, 2000));
  let value: unknown;
  sim.replica("n0").query("k", true).then((v) => value = v);
  assert.ok(await sim.until(() => value !== undefined, 2000));
  assert.equal(value, "v");
});

Deno.test("a new leader changes the configuration only after committing an entry of its term", () => {
  const a = leader(2, [
    { index: 1, term: 1, type: 2, config },
    { index: 2, term: 2, type: 1, data: new Uint8Array([2]) },
  ]);
  // The configuration is committed, but this leader has not committed in its term.
  const next = { ...config, voters: ["a", "b"] };
  assert.equal(a.commit, 2);
  assert.equal(a.canChangeConfig(), false);
  assert.equal(a.proposeConfig(next), undefined);
  a.step("b", { type: "AppR", term: 3, index: a.lastIndex, reject: false, hint: 0, hintTerm: 0 });
  assert.equal(a.commit, a.lastIndex);
  assert.equal(a.canChangeConfig(), true);
  assert.equal(a.proposeConfig(next), a.lastIndex);
});

Deno.test("a vote goes only to a log whose last term is newer, or equal with an index as high", () => {
  const log: Entry[] = [
    { index: 1, term: 1, type: 2, config },
    { index: 2, term: 2, type: 1, data: new Uint8Array([2]) },
  ];
  const answer = (lastIndex: number, lastTerm: number) => {
    const v = core("c", 2, log);
    v.step("a", { type: "Vote", term: 3, lastIndex, lastTerm });
    const r = v.ready().messages.find((o) => o.msg.type === "VoteR")!.msg;
    return !(r as { reject: boolean }).reject;
  };
  assert.equal(answer(5, 1), false, "a longer log of an older term is behind");
  assert.equal(answer(1, 2), false, "a shorter log of the same term is behind");
  assert.equal(answer(2, 2), true);
  assert.equal(answer(1, 3), true, "a newer last term wins over length");
});

Deno.test("a candidate writes its term and own vote before it asks for votes", () => {
  const storage = new MemoryStorage();
  storage.append([{ index: 1, term: 1, type: 2, config }]);
  storage.setHardState({ term: 3 });
  const a = new RaftCore("a", storage, rng(1), { electionTicks: 10 });
  for (let i = 0; i < 30 && a.role !== "precandidate"; i++) a.tick();
  a.step("b", { type: "PreVoteR", term: 4, reject: false });
  assert.equal(a.role, "candidate");
  assert.ok(a.ready().messages.some((o) => o.msg.type === "Vote"));
  // It crashes right after asking: on restart it still voted for itself in term 4.
  const again = new RaftCore("a", storage, rng(2), { electionTicks: 10 });
  assert.deepEqual([again.term, again.vote], [4, "a"]);
  again.step("c", { type: "Vote", term: 4, lastIndex: 1, lastTerm: 1 });
  const answer = again.ready().messages.find((o) => o.msg.type === "VoteR");
  assert.equal((answer?.msg as { reject: boolean }).reject, true, "no second vote in term 4");
});
