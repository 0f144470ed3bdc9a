// The two ways acknowledged writes used to be lost (issue 12), replayed
// deterministically in the simulator: a blank member that starts isolated,
// and a voter that lost its disk.
import assert from "node:assert/strict";
import { rng, Sim } from "./_sim.ts";
import type { Replica } from "./_replica.ts";
import { RaftCore } from "./_raft.ts";
import { EntryType, MemoryStorage } from "./storage.ts";

/** Executes `put key value` on `r` for every pair; resolves with how many were acknowledged. */
async function writes(sim: Sim, r: Replica, pairs: [string, string][]): Promise<number> {
  let acked = 0;
  let settled = 0;
  for (const [k, v] of pairs) {
    r.execute([["put", k, v]]).then(() => acked++, () => {}).finally(() => settled++);
    await sim.run(2);
  }
  await sim.until(() => settled === pairs.length, 5000);
  return acked;
}

/** Every pair's key holds its value on `r`. */
function holds(r: Replica, pairs: [string, string][]): boolean {
  return pairs.every(([k, v]) => r.sm.query(k) === v);
}

const established = Array.from({ length: 5 }, (_, i) => [`a${i}`, `A${i}`] as [string, string]);
const lone = Array.from({ length: 6 }, (_, i) => [`b${i}`, `B${i}`] as [string, string]);

Deno.test("a blank member that starts isolated never forms a group without an expected size", async () => {
  const sim = new Sim({ seed: 21, nodes: 3, replica: { bootstrapExpect: 3 } });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  assert.equal(await writes(sim, sim.leader()!, established), 5);
  sim.add("n3", false);
  sim.partition(["n0", "n1", "n2"], ["n3"]);
  sim.start("n3", { bootstrapExpect: undefined });
  await sim.run(2000);
  assert.equal(sim.replica("n3").core.config, undefined, "it formed nothing");
  sim.heal();
  assert.ok(
    await sim.until(() => sim.alive().every((r) => holds(r, established)), 5000),
    "the established writes survive and reach the new member",
  );
});

Deno.test("an isolated single-node bootstrap and an established group meet: both keep their acknowledged writes", async () => {
  const sim = new Sim({ seed: 22, nodes: 3, replica: { bootstrapExpect: 3 } });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  assert.equal(await writes(sim, sim.leader()!, established), 5);
  sim.add("n3", false);
  sim.partition(["n0", "n1", "n2"], ["n3"]);
  const conflicts: string[] = [];
  const resets: string[] = [];
  sim.start("n3", { bootstrapExpect: 1 });
  assert.ok(await sim.until(() => sim.replica("n3").core.role === "leader"));
  assert.equal(await writes(sim, sim.replica("n3"), lone), 6);
  for (const r of sim.alive()) {
    r.opts.onEvent = (e) => {
      if (e.type === "conflict") conflicts.push(r.id);
      if (e.type === "reset") resets.push(r.id);
    };
  }
  sim.heal();
  await sim.run(3000);
  assert.deepEqual(resets, [], "no incarnation with acknowledged writes was reset");
  for (const id of ["n0", "n1", "n2"]) assert.ok(holds(sim.replica(id), established), id);
  assert.ok(holds(sim.replica("n3"), lone));
  assert.ok(conflicts.includes("n3") && conflicts.some((id) => id !== "n3"), conflicts.join());
});

Deno.test("a voter that lost its disk cannot help overwrite committed entries", async () => {
  const applied = new Map<number, string>();
  const anomalies: string[] = [];
  const sim = new Sim({
    seed: 23,
    nodes: 3,
    replica: { bootstrapExpect: 3, snapshotEvery: 20 },
    onApply: (node, position, cmd) => {
      const at = Number(position.split(".")[0]);
      const text = JSON.stringify(cmd);
      const prev = applied.get(at);
      if (prev === undefined) applied.set(at, text);
      else if (prev !== text) anomalies.push(`${node} applied ${text} at ${at}, others ${prev}`);
    },
  });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const l = sim.leader()!;
  const [c, f] = ["n0", "n1", "n2"].filter((id) => id !== l.id);
  const before = Array.from({ length: 25 }, (_, i) => [`w${i}`, `W${i}`] as [string, string]);
  assert.equal(await writes(sim, l, before), 25);
  assert.ok(await sim.until(() => sim.alive().every((r) => holds(r, before))));
  // F is cut off; L and C commit X1..X10.
  sim.partition([l.id, c], [f]);
  const xs = Array.from({ length: 10 }, (_, i) => [`x${i}`, `X${i + 1}`] as [string, string]);
  assert.equal(await writes(sim, l, xs), 10);
  // C loses its disk and restarts blank; as soon as it holds a configuration
  // again (from L's snapshot), L crashes and the partition heals.
  sim.wipe(c);
  sim.start(c);
  for (let t = 0; t < 2000 && !sim.replica(c).core.config; t++) await sim.run(1);
  assert.ok(sim.replica(c).core.config, "C installed a snapshot");
  assert.ok(!holds(sim.replica(c), xs), "C does not hold X1..X10 yet");
  sim.crash(l.id);
  sim.heal();
  // F and C alone must not elect a leader that lacks X1..X10.
  await sim.run(3000);
  const leader = sim.leader();
  assert.ok(!leader || holds(leader, xs), `leader ${leader?.id} lacks acknowledged writes`);
  // L returns: the group commits again, and every member converges on a
  // history that holds X1..X10.
  sim.start(l.id);
  assert.equal(await writes(sim, sim.replica(f), [["k", "Y"]]), 1);
  assert.ok(
    await sim.until(() => sim.alive().every((r) => holds(r, xs) && r.sm.query("k") === "Y"), 8000),
    "every member holds X1..X10",
  );
  // C was re-added with its new storage epoch and promoted once caught up.
  assert.ok(await sim.until(() => sim.replica(c).core.isVoter, 5000));
  assert.deepEqual(anomalies, []);
});

Deno.test("a restarted member keeps its commit index: it never replaces entries it knew committed", () => {
  const storage = new MemoryStorage();
  const config = { cluster: "c", voters: ["a", "b", "f"], learners: [], epochs: { a: "ea" } };
  storage.append([
    { index: 1, term: 1, type: EntryType.Config, config },
    { index: 2, term: 2, type: EntryType.Command, data: new Uint8Array([1]) },
    { index: 3, term: 2, type: EntryType.Command, data: new Uint8Array([2]) },
  ]);
  const before = new RaftCore("a", storage, rng(1));
  before.log.commitTo(3);
  before.persistHard();
  const core = new RaftCore("a", storage, rng(2)); // the restart
  assert.equal(core.commit, 3);
  assert.equal(core.epoch, before.epoch, "the storage epoch survives a restart");
  // A leader whose log lacks entries 2 and 3 (elected unsafely) cannot make
  // this member replace them: it answers with its commit index instead.
  core.step("f", {
    type: "App",
    cluster: "c",
    term: 3,
    prevIndex: 1,
    prevTerm: 1,
    entries: [{ index: 2, term: 3, type: EntryType.Command, data: new Uint8Array([9]) }],
    commit: 2,
  });
  assert.deepEqual([core.termAt(2), core.termAt(3)], [2, 2]);
  const answer = core.ready().messages.find((o) => o.msg.type === "AppR")?.msg;
  assert.equal((answer as { index: number }).index, 3);
});

Deno.test("a voter whose configuration predates a re-added member's new epoch still votes for it", () => {
  const storage = new MemoryStorage();
  const config = {
    cluster: "c",
    voters: ["a", "b", "c"],
    learners: [],
    epochs: { a: "ea", b: "old", c: "ec" },
  };
  storage.append([{ index: 1, term: 1, type: EntryType.Config, config }]);
  storage.setHardState({ term: 1, epoch: "ea" });
  const a = new RaftCore("a", storage, rng(1));
  // b lost its storage, was re-added with epoch "new" in entries a has not received.
  a.step("b", {
    type: "PreVote",
    cluster: "c",
    epoch: "new",
    term: 2,
    lastIndex: 5,
    lastTerm: 1,
    voterEpoch: "ea",
  });
  const answer = a.ready().messages.find((o) => o.msg.type === "PreVoteR")?.msg;
  assert.equal((answer as { reject: boolean }).reject, false);
});
