import assert from "node:assert/strict";
import { checkKV, isLinearizable, registerModel } from "./_linearizability.ts";
import { HARSH_FAULTS, runChaos } from "./_chaos.ts";
import { FileStorage } from "./file_storage.ts";

Deno.test("checker: accepts a linearizable history and rejects a stale read", () => {
  const ok = [
    { call: 0, ret: 10, input: ["w", 1] as ["w", unknown] },
    { call: 5, ret: 15, input: ["r"] as ["r"], output: 1 },
    { call: 5, ret: 20, input: ["r"] as ["r"], output: null },
  ];
  assert.ok(isLinearizable(registerModel, ok));
  const stale = [
    { call: 0, ret: 10, input: ["w", 1] as ["w", unknown] },
    { call: 11, ret: 15, input: ["r"] as ["r"], output: null },
  ];
  assert.ok(!isLinearizable(registerModel, stale));
  // A write with unknown outcome may or may not have happened, but not "un-happen".
  const pending = [
    { call: 0, ret: Infinity, input: ["w", 2] as ["w", unknown] },
    { call: 5, ret: 6, input: ["r"] as ["r"], output: 2 },
    { call: 7, ret: 8, input: ["r"] as ["r"], output: null },
  ];
  assert.ok(!isLinearizable(registerModel, pending));
  assert.deepEqual(checkKV(stale.map((o) => ({ ...o, key: "k" }))), { ok: false, badKey: "k" });
});

Deno.test("checker catches the stale reads of local (weak) reads under faults", async () => {
  let caught = 0;
  for (let seed = 1; seed <= 3; seed++) {
    const r = await runChaos(seed, { weakReads: true });
    if (r.anomalies.some((a) => a.includes("linearizable"))) caught++;
  }
  assert.ok(caught >= 2, `caught ${caught}`);
});

Deno.test("linearizability under crashes, partitions and restarts: 24 seeds, zero anomalies", async () => {
  let ops = 0;
  for (let seed = 1; seed <= 24; seed++) {
    const r = await runChaos(seed, { duration: 12_000 });
    assert.deepEqual(
      r.anomalies,
      [],
      `seed ${seed}: ${r.anomalies.join("; ")}\n${r.faults.join("\n")}`,
    );
    ops += r.ops;
  }
  assert.ok(ops > 10_000);
});

Deno.test("chaos with automatic removal of absent members (short grace) stays linearizable", async () => {
  for (let seed = 200; seed < 206; seed++) {
    const r = await runChaos(seed, { duration: 12_000, graceTicks: 60 });
    assert.deepEqual(r.anomalies, [], `seed ${seed}`);
  }
});

Deno.test("chaos with the durable file store (real fsync) stays linearizable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "groups-chaos-" });
  try {
    for (let seed = 100; seed < 103; seed++) {
      const stores = new Map<string, FileStorage>();
      const r = await runChaos(seed, {
        duration: 5000,
        storage: (id) => {
          // The simulator steps in virtual time: each write syncs before it returns.
          const s = FileStorage.open(`${dir}/${seed}/${id}`, { groupCommit: false });
          stores.set(id, s);
          return s;
        },
      });
      for (const s of stores.values()) s.close();
      assert.deepEqual(r.anomalies, [], `seed ${seed}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("harsh faults (long delays, duplicates, skew, pauses, torn writes, formation, membership, disk loss, blank members): 12 seeds, zero anomalies", async () => {
  const events: string[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const r = await runChaos(seed, { duration: 12_000, faults: HARSH_FAULTS });
    assert.deepEqual(r.anomalies, [], `seed ${seed}: ${r.anomalies.join("; ")}`);
    events.push(...r.faults);
  }
  const kinds = ["(torn write)", "pause", "clock of", "add n", "isolate leader", "start n", "wipe"];
  for (const kind of [...kinds, "starts blank and isolated"]) {
    assert.ok(events.some((e) => e.includes(kind)), `no "${kind}" fault ran`);
  }
});

Deno.test("a seed replays deterministically, also with every fault", async () => {
  const a = await runChaos(7, { duration: 4000 });
  const b = await runChaos(7, { duration: 4000 });
  assert.deepEqual(a, b);
  const c = await runChaos(9, { duration: 6000, faults: HARSH_FAULTS });
  const d = await runChaos(9, { duration: 6000, faults: HARSH_FAULTS });
  assert.deepEqual(c, d);
});
