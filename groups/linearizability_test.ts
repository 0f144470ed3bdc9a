import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { checkKV, isLinearizable, type Op, registerModel } from "./_linearizability.ts";
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

type RegisterOp = Op<["w", unknown] | ["r"], unknown>;

/** Brute force: some order of a subset (every known outcome in it) respects real time and the register. */
function bruteForce(ops: RegisterOp[]): boolean {
  const go = (state: unknown, left: RegisterOp[]): boolean => {
    if (left.every((o) => o.ret === Infinity)) return true;
    const minRet = Math.min(...left.map((o) => o.ret));
    return left.some((op, i) => {
      if (op.call > minRet) return false;
      const [ok, next] = registerModel.step(state, op.input, op.output, op.ret !== Infinity);
      return ok && go(next, left.filter((_, j) => j !== i));
    });
  };
  return go(registerModel.init, ops);
}

Deno.test("checker: agrees with a brute-force search on small random histories", () => {
  const op = fc.record({
    call: fc.integer({ min: 0, max: 20 }),
    len: fc.integer({ min: 0, max: 8 }),
    pending: fc.boolean(),
    write: fc.boolean(),
    value: fc.integer({ min: 0, max: 2 }),
  });
  const verdicts = new Set<boolean>();
  fc.assert(
    fc.property(fc.array(op, { maxLength: 7 }), (raw) => {
      const ops: RegisterOp[] = raw.map((o, i) => ({
        call: o.call,
        ret: o.write && o.pending ? Infinity : o.call + o.len,
        input: o.write ? ["w", i] : ["r"],
        output: o.write ? undefined : (o.value === 0 ? null : o.value + raw.length),
      }));
      // Reads name a written value: the index of a write when one exists.
      const writes = ops.flatMap((o) => o.input[0] === "w" ? [o.input[1]] : []);
      for (const o of ops) {
        if (o.input[0] === "r" && o.output !== null && writes.length) {
          o.output = writes[(o.output as number) % writes.length];
        }
      }
      const sorted = [...ops].sort((a, b) => a.call - b.call);
      const expected = bruteForce(sorted);
      verdicts.add(expected);
      assert.equal(isLinearizable(registerModel, sorted), expected);
    }),
    { numRuns: 3000 },
  );
  assert.deepEqual(verdicts, new Set([true, false]), "both verdicts were exercised");
});

/** Rounds of a write, its read and a second read (every 100th round a write that never returned instead). */
function rounds(count: number): RegisterOp[] {
  const ops: RegisterOp[] = [];
  for (let i = 0; i < count; i++) {
    const t = i * 10;
    ops.push({ call: t, ret: t + 12, input: ["w", i] });
    ops.push({ call: t + 1, ret: t + 15, input: ["r"], output: i });
    if (i % 100 === 0) ops.push({ call: t + 2, ret: Infinity, input: ["w", `lost ${i}`] });
    else ops.push({ call: t + 2, ret: t + 9, input: ["r"], output: i });
  }
  return ops;
}

Deno.test("checker: a soak-sized history (30,000 operations, 100 unknown outcomes) is checked without recursion", () => {
  const keyed = (ops: RegisterOp[]) => ops.map((o) => ({ ...o, key: "k" }));
  assert.ok(isLinearizable(registerModel, rounds(10_000)));
  assert.deepEqual(checkKV(keyed(rounds(10_000))), { ok: true });
  // A stale read at the end: every order must be searched before saying no.
  const stale = rounds(10_000);
  stale.push({ call: 100_000, ret: 100_001, input: ["r"], output: 9_998 });
  assert.deepEqual(checkKV(keyed(stale)), { ok: false, badKey: "k" });
  // A write of unknown outcome that a read saw took effect: it may come
  // late, but no later read may see what it overwrote.
  const late = rounds(300);
  late.push({ call: 4_000, ret: 4_001, input: ["r"], output: "lost 200" });
  assert.deepEqual(checkKV(keyed(late)), { ok: true });
  late.push({ call: 4_002, ret: 4_003, input: ["r"], output: 299 });
  assert.deepEqual(checkKV(keyed(late)), { ok: false, badKey: "k" });
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
