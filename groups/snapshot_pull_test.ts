import assert from "node:assert/strict";
import { Sim } from "./_sim.ts";
import type { Replica } from "./_replica.ts";
import type { ReplicaMessage } from "./_replica_types.ts";

const VALUE = "v".repeat(16 * 1024);

/** Three members hold a ~640 KiB snapshot (five pieces) at index 40; returns the leader. */
async function compacted(seed: number): Promise<{ sim: Sim; leader: Replica }> {
  const sim = new Sim({
    seed,
    nodes: 3,
    // One delay for every message: links keep their order, as a bond's stream does.
    minDelay: 2,
    maxDelay: 2,
    replica: {
      snapshotEvery: 20,
      snapshotPieceBytes: 2 * 1024, // 320 pieces: the manifest comes in three parts
      raft: { electionTicks: 10, heartbeatTicks: 2, maxEntriesPerMsg: 8, maxInflight: 4 },
    },
  });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const leader = sim.leader()!;
  await put(sim, leader, 0, 40);
  assert.ok(await sim.until(() => sim.alive().every((r) => r.core.log.snapIndex === 40), 5000));
  return { sim, leader };
}

/** Writes keys `from..to - 1`, one entry each. */
async function put(sim: Sim, leader: Replica, from: number, to: number): Promise<void> {
  let done = 0;
  for (let i = from; i < to; i++) {
    leader.execute([["put", `k${i}`, `${i}${VALUE}`]]).then(() => done++);
    await sim.run(2);
  }
  assert.ok(await sim.until(() => done === to - from, 20_000));
}

/** Counts the snapshot pieces each member sends with data; `alter` may change them. */
function watchPieces(
  r: Replica,
  count: Map<string, number>,
  alter?: (m: Extract<ReplicaMessage, { type: "SnapPiece" }>) => ReplicaMessage,
): void {
  const send = r.opts.send;
  r.opts.send = (to, m) => {
    if (m.type === "SnapPiece" && m.data.byteLength) {
      count.set(r.id, (count.get(r.id) ?? 0) + 1);
      return send(to, alter ? alter(m) : m);
    }
    send(to, m);
  };
}

function sameState(a: Replica, b: Replica): boolean {
  return JSON.stringify(a.sm.snapshot()) === JSON.stringify(b.sm.snapshot());
}

Deno.test("snapshot pull: a new member pulls the leader's snapshot from several peers at once", async () => {
  const { sim, leader } = await compacted(31);
  const pieces = new Map<string, number>();
  for (const r of sim.alive()) watchPieces(r, pieces);
  const parts: number[] = [];
  const send = leader.opts.send;
  leader.opts.send = (to, m) => {
    if (m.type === "SnapPlanR") parts.push(m.first);
    send(to, m);
  };
  sim.add("n3");
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k39") === `39${VALUE}`, 10_000));
  assert.deepEqual(parts, [0, 128, 256], "the manifest came in parts of 128 digests");
  assert.equal(joiner.pulled.snapshots, 1, "installed from pulled pieces");
  assert.equal(joiner.pulled.refused, 0);
  const fromFollowers = [...pieces].filter(([id]) => id !== leader.id);
  assert.equal(fromFollowers.length, 2, `both followers served pieces: ${[...pieces]}`);
  assert.ok(await sim.until(() => sameState(joiner, leader)));
});

Deno.test("snapshot pull: a lying peer's pieces are refused and the joiner still converges", async () => {
  const { sim, leader } = await compacted(32);
  const liar = sim.alive().find((r) => r.id !== leader.id)!;
  const pieces = new Map<string, number>();
  watchPieces(liar, pieces, (m) => {
    const data = m.data.slice();
    data[data.length >> 1] ^= 0xff; // same length, one byte off
    return { ...m, data };
  });
  sim.add("n3");
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k39") === `39${VALUE}`, 10_000));
  assert.ok((pieces.get(liar.id) ?? 0) >= 1, "the liar was asked");
  // Each caught (a lie arriving after its session ended is dropped uncounted).
  assert.ok(joiner.pulled.refused >= 1 && joiner.pulled.refused <= pieces.get(liar.id)!);
  assert.ok(await sim.until(() => sameState(joiner, leader)));
  for (let i = 0; i < 40; i++) assert.equal(joiner.sm.query(`k${i}`), `${i}${VALUE}`);
});

Deno.test("snapshot pull: a stale peer (an older snapshot) serves nothing and the joiner converges", async () => {
  const { sim, leader } = await compacted(33);
  const stale = sim.alive().find((r) => r.id !== leader.id)!;
  sim.partition([stale.id], [...sim.nodes.keys()].filter((k) => k !== stale.id));
  await put(sim, leader, 40, 60);
  assert.ok(await sim.until(() => leader.core.log.snapIndex === 60));
  // The joiner reaches everyone; the stale peer still holds the snapshot at 40.
  const pieces = new Map<string, number>();
  watchPieces(stale, pieces);
  sim.add("n3");
  const joiner = sim.replica("n3");
  assert.ok(await sim.until(() => joiner.sm.query("k59") === `59${VALUE}`, 10_000));
  assert.equal(stale.core.log.snapIndex, 40);
  assert.equal(pieces.get(stale.id) ?? 0, 0, "the stale peer served no piece");
  assert.equal(joiner.pulled.snapshots, 1, "the other follower and the leader served it");
  assert.equal(joiner.pulled.refused, 0);
  assert.ok(await sim.until(() => sameState(joiner, leader)));
});
