// Port of the reference's collections set suite (tests/collections/set.rs)
// over real Network nodes.
import assert from "node:assert/strict";
import { SharedSet } from "@mosaik/collections";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

const size = (h: { size: number }): number => h.size;
const sorted = (h: Iterable<number>): number[] => [...h].sort((a, b) => a - b);

Deno.test("collections set: reference scenarios over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  try {
    await scenarios(t, {
      async smoke_no_catchup() {
        const name = freshName();
        const w = SharedSet.writer<number>(n0, name);
        const r = SharedSet.reader<number>(n1, name);
        await online(w, r);
        assert.ok(r.isEmpty && size(r) === 0 && !r.has(10));
        await reach(await w.insert(10), r);
        assert.ok(size(r) === 1 && r.has(10) && !r.has(20));
        await reach(await w.insert(20), r);
        await reach(await w.insert(10), r);
        assert.equal(size(r), 2);
        await reach(await w.extend([30, 40, 50]), r);
        assert.ok(size(r) === 5 && r.has(10) && !r.has(99));
        assert.deepEqual(sorted(r), [10, 20, 30, 40, 50]);
        await reach(await w.remove(30), r);
        assert.ok(size(r) === 4 && !r.has(30));
        await reach(await w.clear(), r);
        assert.ok(r.isEmpty);
        await closeHandles(w, r);
      },
      async catchup_and_subset() {
        const name = freshName();
        const w = SharedSet.writer<number>(n0, name, { snapshotEvery: 40 });
        await online(w);
        for (let i = 0; i < 100; i++) await w.insert(i);
        await w.extend([100, 101, 102]);
        const r1 = SharedSet.reader<number>(n1, name, { snapshotEvery: 40 });
        const r2 = SharedSet.reader<number>(n2, name, { snapshotEvery: 40 });
        await online(r1, r2);
        await reach(w.version, r1, r2);
        assert.equal(size(r1), 103);
        for (let i = 0; i <= 102; i++) assert.ok(r1.has(i));
        assert.ok(r1.isSubsetOf(r2) && r2.isSubsetOf(r1));
        assert.deepEqual([...r2], [...w], "same iteration order everywhere");
        await reach(await w.remove(50), r1);
        assert.equal(size(r1), 102);
        await closeHandles(w, r1, r2);
      },
      async multiple_writers_many_readers() {
        const name = freshName();
        const w0 = SharedSet.writer<number>(n0, name);
        const w1 = SharedSet.writer<number>(n1, name);
        const r0 = SharedSet.reader<number>(n2, name);
        const r1 = SharedSet.reader<number>(n3, name);
        await online(w0, w1, r0, r1);
        await reach(await w0.extend([1, 2, 3]), w1);
        await reach(await w1.extend([4, 5]), r0, r1);
        assert.ok(size(r0) === 5 && size(r1) === 5);
        await reach(await w0.remove(1), w1);
        await reach(await w1.insert(6), w0, r0, r1);
        for (const h of [w1, r0, r1]) assert.deepEqual([...h], [...w0]);
        assert.deepEqual(sorted(w0), [2, 3, 4, 5, 6]);
        await closeHandles(w0, w1, r0, r1);
      },
      async late_writer_catchup() {
        const name = freshName();
        const w0 = SharedSet.writer<number>(n0, name);
        await online(w0);
        const v = await w0.extend([1, 2, 3, 4, 5]);
        const w1 = SharedSet.writer<number>(n1, name);
        await online(w1);
        await reach(v, w1);
        await reach(await w1.insert(99), w0);
        assert.ok(size(w0) === 6 && w0.has(99) && w1.has(99));
        await closeHandles(w0, w1);
      },
      async single_node_semantics() {
        const w = SharedSet.writer<number>(n3, freshName());
        await online(w);
        for (let i = 0; i < 3; i++) await w.insert(1);
        assert.equal(size(w), 1);
        await w.extend([1, 2, 3]);
        await w.extend([2, 3, 4, 5]);
        assert.deepEqual(sorted(w), [1, 2, 3, 4, 5]);
        await w.remove(999);
        assert.equal(size(w), 5);
        await w.removeMany([2, 4, 5]);
        assert.deepEqual(sorted(w), [1, 3]);
        await w.removeMany([1, 99, 100]);
        assert.deepEqual(sorted(w), [3]);
        const at = w.version;
        assert.equal(await w.removeMany([]), at);
        assert.equal(await w.extend([]), at);
        await w.insert(10);
        assert.equal(size(w), 2);
        await w.remove(3);
        await w.remove(10);
        assert.ok(w.isEmpty);
        await w.extend([1, 2, 3]);
        await w.clear();
        await w.insert(100);
        assert.ok(size(w) === 1 && w.has(100) && !w.has(1));
        await closeHandles(w);
        const s = SharedSet.writer<string | { id: number }>(n3, freshName());
        await online(s);
        await s.insert("hello");
        assert.ok(size(s) === 1 && s.has("hello") && !s.has("missing"));
        await s.insert({ id: 1 });
        await s.insert({ id: 1 });
        assert.ok(size(s) === 2 && s.has({ id: 1 }), "structured elements compare by encoding");
        await closeHandles(s);
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
