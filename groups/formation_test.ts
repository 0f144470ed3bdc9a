// Formation needs an expected size; incarnations that formed apart never
// merge on their own once they hold writes.
import assert from "node:assert/strict";
import { Sim } from "./_sim.ts";

/** Executes `put a <value>` on `id` for each value, one after another in time. */
async function put(sim: Sim, id: string, values: string[]): Promise<() => number> {
  let acked = 0;
  for (const v of values) {
    sim.replica(id).execute([["put", "a", v]]).then(() => acked++);
    await sim.run(3);
  }
  return () => acked;
}

Deno.test("bootstrapExpect: 1 forms alone at once, 2 waits for a second blank member, none never forms", async () => {
  const alone = new Sim({ seed: 2, nodes: 1 });
  assert.ok(await alone.until(() => alone.leader() !== undefined, 1000));
  const two = new Sim({ seed: 3, nodes: 1, replica: { bootstrapExpect: 2 } });
  await two.run(2000);
  assert.equal(two.leader(), undefined);
  two.add("n1");
  assert.ok(await two.until(() => two.leader() !== undefined, 2000));
  assert.equal(two.leader()!.core.config!.voters.length, 2);
  const none = new Sim({ seed: 4, nodes: 2, replica: { bootstrapExpect: undefined } });
  await none.run(5000);
  assert.ok(none.alive().every((r) => r.core.config === undefined && r.core.term === 0));
});

Deno.test("formation: the lowest member that may lead writes the first configuration", async () => {
  const sim = new Sim({ seed: 60, nodes: 0, replica: { bootstrapExpect: 3 } });
  for (const id of ["a", "b", "c"]) {
    sim.add(id, false);
    const r = sim.start(id);
    if (id !== "c") r.core.opts.preference = "never";
  }
  assert.ok(await sim.until(() => sim.leader()?.id === "c", 5000));
  assert.equal(sim.leader()!.core.config!.voters.length, 3);
});

Deno.test("a member that has voted never forms a group: members whose bootstrapper vanished wait for it", async () => {
  const sim = new Sim({ seed: 40, nodes: 3 });
  assert.ok(await sim.until(() => sim.leader() !== undefined, 5000));
  const l = sim.leader()!;
  const others = sim.alive().filter((r) => r !== l);
  assert.ok(others.every((r) => r.core.config === undefined && r.core.term > 0), "they voted");
  sim.crash(l.id);
  await sim.run(20_000);
  assert.ok(others.every((r) => r.core.config === undefined), "nobody formed a group");
  sim.start(l.id);
  assert.ok(await sim.until(() => sim.leader() !== undefined, 5000));
  assert.equal(sim.leader()!.core.config!.voters.length, 3);
});

Deno.test("incarnations holding writes stay apart and report the conflict until resolve() picks one", async () => {
  const sim = new Sim({ seed: 11, nodes: 2, replica: { bootstrapExpect: 1 } });
  sim.partition(["n0"], ["n1"]);
  assert.ok(await sim.until(() => sim.alive().every((r) => r.core.role === "leader")));
  const a = await put(sim, "n0", ["0", "1", "2"]);
  const b = await put(sim, "n1", ["other"]);
  assert.ok(await sim.until(() => a() === 3 && b() === 1));
  const events: { type: string; discarded?: number }[] = [];
  for (const r of sim.alive()) r.opts.onEvent = (e) => events.push(e);
  sim.heal();
  await sim.run(3000);
  assert.deepEqual(events.map((e) => e.type).sort(), ["conflict", "conflict"]);
  const [n0, n1] = [sim.replica("n0"), sim.replica("n1")];
  assert.deepEqual([...n0.conflicts], [n1.core.cluster]);
  assert.equal(n0.sm.query("a"), "2");
  assert.equal(n1.sm.query("a"), "other");
  // The operator keeps n0's incarnation: n1 discards its history and rejoins.
  n0.resolve(n0.core.cluster!);
  sim.replica("n1").resolve(n0.core.cluster!);
  assert.ok(
    await sim.until(() =>
      sim.replica("n0").core.config!.voters.includes("n1") &&
      sim.replica("n1").sm.query("a") === "2"
    ),
    "n1 rejoined with n0's history",
  );
  const reset = events.find((e) => e.type === "reset");
  assert.equal(reset?.discarded, 3);
  assert.equal(sim.replica("n0").conflicts.size, 0);
});

Deno.test("an incarnation without writes yields to the one it meets, in any order; writes never merge on their own", async () => {
  for (let seed = 1; seed <= 30; seed++) {
    const sim = new Sim({
      seed,
      nodes: 3,
      maxDelay: 1 + (seed % 8),
      replica: { bootstrapExpect: 1 },
    });
    sim.partition(["n0"], ["n1"], ["n2"]);
    assert.ok(await sim.until(() => sim.alive().every((r) => r.core.role === "leader"), 5000));
    const a = await put(sim, "n0", ["n00", "n01", "n02"]);
    const b = await put(sim, "n1", ["n10"]);
    assert.ok(await sim.until(() => a() === 3 && b() === 1, 5000));
    const resets: string[] = [];
    for (const r of sim.alive()) r.opts.onEvent = (e) => e.type === "reset" && resets.push(r.id);
    const order = [["n0"], ["n1"], ["n2"]].sort(() => sim.random() - 0.5);
    sim.partition([...order[0], ...order[1]], order[2]);
    await sim.run(Math.floor(sim.random() * 1500));
    sim.heal();
    await sim.run(3000);
    // n2 held no write: it joined one of the others. n0 and n1 kept theirs.
    assert.deepEqual(resets, ["n2"], `seed ${seed}`);
    const [n0, n1, n2] = ["n0", "n1", "n2"].map((id) => sim.replica(id));
    assert.equal(n0.sm.query("a"), "n02", `seed ${seed}`);
    assert.equal(n1.sm.query("a"), "n10", `seed ${seed}`);
    assert.ok([n0.core.cluster, n1.core.cluster].includes(n2.core.cluster), `seed ${seed}`);
    assert.ok(n0.conflicts.has(n1.core.cluster!) && n1.conflicts.has(n0.core.cluster!));
  }
});

Deno.test("a lagging member of an incarnation holding writes never resets", async () => {
  const sim = new Sim({ seed: 50, nodes: 3 });
  sim.add("n3", false);
  sim.partition(["n0", "n1", "n2"], ["n3"]);
  sim.start("n3", { bootstrapExpect: 1 });
  assert.ok(
    await sim.until(() =>
      sim.replica("n3").core.role === "leader" &&
      sim.alive().filter((r) => r.core.role === "leader").length === 2
    ),
  );
  assert.ok(await sim.until(() => sim.alive().every((r) => r.core.config !== undefined)));
  const a = sim.alive().find((r) => r.core.role === "leader" && r.id !== "n3")!;
  const lagging = ["n0", "n1", "n2"].find((id) => id !== a.id)!;
  sim.crash(lagging);
  const x = await put(sim, a.id, Array.from({ length: 30 }, (_, i) => `${i}`));
  const y = await put(sim, "n3", Array.from({ length: 10 }, (_, i) => `b${i}`));
  assert.ok(await sim.until(() => x() === 30 && y() === 10));
  const resets: string[] = [];
  for (const r of sim.alive()) r.opts.onEvent = (e) => e.type === "reset" && resets.push(r.id);
  sim.start(lagging).opts.onEvent = (e) => e.type === "reset" && resets.push(lagging);
  sim.heal();
  assert.ok(await sim.until(() => sim.replica(lagging).sm.query("a") === "29", 10_000));
  await sim.run(2000);
  assert.deepEqual(resets, []);
  assert.equal(sim.replica("n3").sm.query("a"), "b9");
});

Deno.test("statuses naming many other incarnations keep the conflict list bounded", async () => {
  const sim = new Sim({ seed: 70, nodes: 1 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const acked = await put(sim, "n0", ["v"]);
  assert.ok(await sim.until(() => acked() === 1));
  const r = sim.replica("n0");
  for (let i = 0; i < 1000; i++) {
    r.receive("x", { type: "Status", cluster: `f${i}`, commit: 9, learner: false, best: 9 });
  }
  assert.equal(r.conflicts.size, 16);
  assert.equal(r.sm.query("a"), "v");
});

Deno.test("a blank member without an expected size never blocks formation, even as the lowest id", async () => {
  const sim = new Sim({ seed: 71, nodes: 0, replica: { bootstrapExpect: 2 } });
  for (const id of ["a", "b", "c"]) sim.add(id, false);
  sim.start("a", { bootstrapExpect: undefined });
  sim.start("b");
  sim.start("c");
  assert.ok(await sim.until(() => sim.leader() !== undefined, 5000));
  assert.deepEqual([...sim.leader()!.core.config!.voters].sort(), ["a", "b", "c"]);
});

Deno.test("a bootstrapper that crashed while writing its first term forms the group again", async () => {
  const sim = new Sim({ seed: 72, nodes: 0, replica: { bootstrapExpect: 2 } });
  for (const id of ["a", "b"]) sim.add(id, false);
  // The crash tears a's first write: the term of its bootstrap, never its configuration.
  sim.nodes.get("a")!.storage.inner.setHardState({ term: 1 });
  sim.start("a");
  sim.start("b");
  assert.ok(await sim.until(() => sim.leader() !== undefined, 5000));
  assert.equal(sim.leader()!.core.config!.voters.length, 2);
});

Deno.test("resolve() toward an incarnation no bonded member belongs to discards nothing", async () => {
  const sim = new Sim({ seed: 73, nodes: 1 });
  assert.ok(await sim.until(() => sim.leader() !== undefined));
  const acked = await put(sim, "n0", ["v"]);
  assert.ok(await sim.until(() => acked() === 1));
  const r = sim.replica("n0");
  assert.throws(() => r.resolve("typo"), RangeError);
  assert.equal(r.sm.query("a"), "v");
});

Deno.test("two incarnations formed at once through one shared member merge into one group", async () => {
  // n0 and n1 cannot see each other; each forms with n2 (a majority of 3
  // writers). n2 joins one, the other yields to it once n0 and n1 meet: the
  // group ends with one leader and all three members.
  let merges = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const sim = new Sim({
      seed,
      nodes: 0,
      maxDelay: 1 + (seed % 6),
      replica: { bootstrapExpect: 2 },
    });
    for (const id of ["n0", "n1", "n2"]) sim.add(id, false);
    sim.cut("n0", "n1");
    const resets: string[] = [];
    for (const id of ["n0", "n1", "n2"]) {
      sim.start(id).opts.onEvent = (e) => e.type === "reset" && resets.push(id);
    }
    await sim.run(3000);
    sim.heal();
    const merged = await sim.until(() => {
      const l = sim.leader();
      return !!l &&
        sim.alive().every((r) =>
          r.core.cluster === l.core.cluster && l.core.config!.voters.includes(r.id) &&
          r.core.lead === l.id
        );
    }, 30_000);
    const state = sim.alive().map((r) =>
      `${r.id}: ${r.core.role} t${r.core.term} ${r.core.cluster} ${r.core.config?.voters}`
    );
    assert.ok(merged, `seed ${seed}: ${state.join("; ")}`);
    if (resets.length) merges++;
  }
  assert.ok(merges >= 10, `only ${merges} of 40 seeds formed two incarnations`);
});
