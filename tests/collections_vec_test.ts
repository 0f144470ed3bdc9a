// Port of the reference's collections vec suite (tests/collections/vec.rs)
// over real Network nodes; readers here are real non-voting readers (the
// reference's Vec "readers" were voters by mistake).
import assert from "node:assert/strict";
import { SharedVec } from "@mosaik/collections";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

const size = (h: { size: number }): number => h.size;

Deno.test("collections vec: reference scenarios over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  try {
    await scenarios(t, {
      async smoke_no_catchup() {
        const name = freshName();
        const w = SharedVec.writer<number>(n0, name);
        const r = SharedVec.reader<number>(n1, name);
        await online(w, r);
        assert.equal(r.role, "reader");
        assert.ok(r.isEmpty && size(r) === 0 && r.front() === undefined && r.back() === undefined);
        assert.ok(r.get(0) === undefined && !r.contains(0) && r.indexOf(0) === undefined);
        await reach(await w.pushBack(10), r);
        assert.ok(size(r) === 1 && r.get(0) === 10 && r.front() === 10 && r.back() === 10);
        assert.ok(r.contains(10) && r.indexOf(10) === 0);
        await reach(await w.pushFront(5), r);
        assert.deepEqual([...r], [5, 10]);
        await reach(await w.extend([20, 30, 40]), r);
        assert.deepEqual([...r], [5, 10, 20, 30, 40]);
        await reach(await w.insert(2, 15), r);
        assert.deepEqual([...r], [5, 10, 15, 20, 30, 40]);
        assert.ok(r.contains(15) && !r.contains(99) && r.indexOf(15) === 2);
        assert.equal(r.indexOf(99), undefined);
        await reach(await w.swap(0, 5), r);
        assert.ok(r.front() === 40 && r.back() === 5);
        const popped = await w.popBack();
        assert.equal(popped.value, 5, "pops return the removed element");
        await reach(popped.version, r);
        assert.ok(size(r) === 5 && r.back() === 30);
        await reach((await w.popFront()).version, r);
        assert.ok(size(r) === 4 && r.front() === 10);
        const removed = await w.remove(1);
        assert.equal(removed.value, 15);
        await reach(removed.version, r);
        assert.deepEqual([...r], [10, 20, 30]);
        await reach(await w.truncate(2), r);
        assert.ok(size(r) === 2 && r.get(2) === undefined);
        await reach(await w.clear(), r);
        assert.ok(r.isEmpty);
        await closeHandles(w, r);
      },
      async catchup_single_and_multiple_readers() {
        const name = freshName();
        const w = SharedVec.writer<number>(n0, name, { snapshotEvery: 40 });
        await online(w);
        for (let i = 0; i < 100; i++) await w.pushBack(i + 5);
        await w.extend([10, 20, 30, 40, 50, 60, 70]);
        const r1 = SharedVec.reader<number>(n1, name, { snapshotEvery: 40 });
        await online(r1);
        await reach(w.version, r1);
        assert.equal(size(r1), 107);
        for (let i = 0; i < 100; i++) assert.equal(r1.get(i), i + 5);
        for (let i = 0; i < 7; i++) assert.equal(r1.get(100 + i), (i + 1) * 10);
        await reach((await w.remove(50)).version, r1);
        assert.ok(size(r1) === 106 && r1.get(50) === 56);
        const late = await w.pushBack(1000);
        const r2 = SharedVec.reader<number>(n2, name, { snapshotEvery: 40 });
        await online(r2);
        await reach(late, r1, r2);
        assert.ok(r2.back() === 1000);
        assert.deepEqual([...r2], [...r1]);
        await closeHandles(w, r1, r2);
      },
      async multiple_writers_many_readers() {
        const name = freshName();
        const w0 = SharedVec.writer<number>(n0, name);
        const w1 = SharedVec.writer<number>(n1, name);
        const r0 = SharedVec.reader<number>(n2, name);
        const r1 = SharedVec.reader<number>(n3, name);
        await online(w0, w1, r0, r1);
        await reach(await w0.extend([10, 20, 30]), w1);
        await reach(await w1.extend([40, 50]), r0, r1);
        assert.ok(size(r0) === 5 && size(r1) === 5);
        await reach((await w0.popFront()).version, w1);
        const v = await w1.pushBack(60);
        await reach(v, w0, r0, r1);
        for (const h of [w1, r0, r1]) assert.deepEqual([...h], [...w0]);
        assert.deepEqual([...w0], [20, 30, 40, 50, 60]);
        await closeHandles(w0, w1, r0, r1);
      },
      async late_writer_catchup() {
        const name = freshName();
        const w0 = SharedVec.writer<number>(n0, name);
        await online(w0);
        const v = await w0.extend([1, 2, 3, 4, 5]);
        const w1 = SharedVec.writer<number>(n1, name);
        await online(w1);
        await reach(v, w1);
        assert.equal(size(w1), 5);
        await reach(await w1.pushBack(99), w0);
        assert.ok(size(w0) === 6 && w0.contains(99) && w1.contains(99));
        await closeHandles(w0, w1);
      },
      async single_node_edge_cases() {
        const w = SharedVec.writer<number>(n2, freshName());
        await online(w);
        // push_front_back_ordering
        await w.pushBack(3);
        await w.pushFront(2);
        await w.pushBack(4);
        await w.pushFront(1);
        await w.pushBack(5);
        assert.deepEqual([...w], [1, 2, 3, 4, 5]);
        // pop_until_empty (and pops on empty are harmless)
        assert.equal((await w.popFront()).value, 1);
        assert.equal((await w.popBack()).value, 5);
        await w.popFront();
        await w.popBack();
        await w.popFront();
        assert.ok(w.isEmpty);
        assert.equal((await w.popBack()).value, undefined);
        assert.equal((await w.popFront()).value, undefined);
        // swap_variations
        await w.extend([10, 20, 30]);
        await w.swap(0, 2);
        assert.deepEqual([...w], [30, 20, 10]);
        await w.swap(1, 1);
        await w.swap(0, 999);
        assert.deepEqual([...w], [30, 20, 10]);
        // remove_out_of_bounds
        assert.equal((await w.remove(100)).value, undefined);
        assert.equal(size(w), 3);
        // insert_at_positions, including past the end (the reference crashed here)
        await w.clear();
        await w.insert(0, 50);
        await w.insert(0, 10);
        await w.insert(2, 90);
        await w.insert(1, 30);
        assert.deepEqual([...w], [10, 30, 50, 90]);
        const before = w.version;
        assert.ok((await w.insert(99, 1)) > before);
        await w.insert(-1, 1);
        await w.insert(1.5, 1);
        assert.deepEqual([...w], [10, 30, 50, 90], "out-of-range inserts are no-ops");
        await w.pushBack(7);
        assert.equal(w.back(), 7, "the state machine keeps working");
        // truncate_edge_cases
        await w.clear();
        await w.extend([1, 2, 3, 4, 5]);
        await w.truncate(100);
        await w.truncate(5);
        assert.equal(size(w), 5);
        await w.truncate(3);
        assert.deepEqual([...w], [1, 2, 3]);
        await w.truncate(0);
        assert.ok(w.isEmpty);
        // clear_then_rebuild, extend_empty
        await w.extend([1, 2, 3]);
        await w.clear();
        await w.pushBack(100);
        const at = w.version;
        assert.equal(await w.extend([]), at);
        await w.pushBack(2);
        assert.deepEqual([...w], [100, 2]);
        await closeHandles(w);
        const s = SharedVec.writer<string>(n2, freshName());
        await online(s);
        await s.pushBack("hello");
        assert.ok(size(s) === 1 && s.get(0) === "hello" && s.contains("hello"));
        assert.ok(s.indexOf("hello") === 0 && s.front() === "hello" && s.back() === "hello");
        await s.pushBack("world");
        assert.deepEqual([...s], ["hello", "world"]);
        await closeHandles(s);
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
