// Port of the reference's priority queue suite (tests/collections/depq.rs)
// over real Network nodes, plus the atomic pops the reference lacked.
import assert from "node:assert/strict";
import { type PqEntry, SharedPriorityQueue } from "@mosaik/collections";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

type E = PqEntry<number, number, number>;
const size = (h: { size: number }): number => h.size;
const prios = (it: Iterable<E>): number[] => [...it].map((e) => e.priority);
const triples = (it: Iterable<E>): number[][] => [...it].map((e) => [e.priority, e.key, e.value]);
const keys = (it: Iterable<E>): number[] => [...it].map((e) => e.key).sort((a, b) => a - b);

Deno.test("collections priority queue: reference scenarios over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  const open = (n: typeof n0, name: string, capacity?: number) =>
    SharedPriorityQueue.writer<number, number, number>(n, name, { capacity });
  try {
    await scenarios(t, {
      async smoke_no_catchup() {
        const name = freshName();
        const w = open(n0, name);
        const r = SharedPriorityQueue.reader<number, number, number>(n1, name);
        await online(w, r);
        assert.ok(r.isEmpty && size(r) === 0 && r.get(1) === undefined);
        assert.ok(r.getPriority(1) === undefined && !r.has(1) && r.min() === undefined);
        assert.ok(r.max() === undefined && r.minPriority() === undefined);
        assert.equal(r.maxPriority(), undefined);
        assert.equal([...r].length, 0);
        await reach(await w.insert(10, 1, 100), r);
        assert.ok(size(r) === 1 && r.get(1) === 100 && r.getPriority(1) === 10);
        assert.ok(r.has(1) && !r.has(2));
        assert.deepEqual(r.min(), { priority: 10, key: 1, value: 100 });
        assert.deepEqual(r.max(), { priority: 10, key: 1, value: 100 });
        await w.insert(5, 2, 200);
        await reach(await w.insert(20, 3, 300), r);
        assert.deepEqual(r.min(), { priority: 5, key: 2, value: 200 });
        assert.deepEqual(r.max(), { priority: 20, key: 3, value: 300 });
        await reach(await w.insert(15, 1, 150), r);
        assert.ok(size(r) === 3 && r.get(1) === 150 && r.getPriority(1) === 15);
        await reach(await w.extend([[1, 4, 400], [30, 5, 500], [8, 6, 600]]), r);
        assert.ok(size(r) === 6 && r.get(4) === 400 && r.getPriority(5) === 30);
        assert.ok(r.minPriority() === 1 && r.maxPriority() === 30);
        assert.deepEqual(prios(r.ascending()), [1, 5, 8, 10 + 5, 20, 30].sort((a, b) => a - b));
        assert.deepEqual(prios(r.descending()), [30, 20, 15, 8, 5, 1]);
        assert.ok(r.has(4) && !r.has(99));
        await reach(await w.remove(4), r);
        assert.ok(size(r) === 5 && r.get(4) === undefined && r.minPriority() === 5);
        await reach(await w.clear(), r);
        assert.ok(r.isEmpty && r.min() === undefined && r.max() === undefined);
        await closeHandles(w, r);
      },
      async catchup_multiple_readers() {
        const name = freshName();
        const w = SharedPriorityQueue.writer<number, number, number>(n0, name, {
          snapshotEvery: 32,
        });
        await online(w);
        for (let i = 0; i < 50; i++) await w.insert(10 * i, i, 100 * i);
        const mid = await w.insert(5, 999, 99_900);
        const r1 = SharedPriorityQueue.reader<number, number, number>(n1, name, {
          snapshotEvery: 32,
        });
        await online(r1);
        await reach(mid, r1);
        assert.ok(size(r1) === 51 && r1.get(999) === 99_900);
        for (let i = 50; i < 80; i++) await w.insert(10 * i, i, 100 * i);
        const late = await w.insert(5, 1000, 100_000);
        const r2 = SharedPriorityQueue.reader<number, number, number>(n2, name, {
          snapshotEvery: 32,
        });
        await online(r2);
        await reach(late, r1, r2);
        assert.ok(size(r1) === 82 && size(r2) === 82 && r2.get(1000) === 100_000);
        assert.deepEqual(triples(r1), triples(w));
        assert.deepEqual(triples(r2), triples(w), "identical order, also within a bucket");
        await reach(await w.remove(50), r2);
        assert.ok(size(r2) === 81 && r2.get(50) === undefined);
        await closeHandles(w, r1, r2);
      },
      async many_writers_many_readers() {
        const name = freshName();
        const w0 = open(n0, name);
        const w1 = open(n1, name);
        const r0 = SharedPriorityQueue.reader<number, number, number>(n2, name);
        const r1 = SharedPriorityQueue.reader<number, number, number>(n3, name);
        await online(w0, w1, r0, r1);
        await reach(await w0.extend([[10, 1, 100], [20, 2, 200], [30, 3, 300]]), w1);
        await reach(await w1.extend([[40, 4, 400], [50, 5, 500]]), r0, r1);
        assert.ok(size(r0) === 5 && size(r1) === 5);
        await reach(await w0.remove(1), w1);
        await reach(await w1.insert(60, 6, 600), w0, r0, r1);
        for (const h of [w1, r0, r1]) assert.deepEqual(triples(h), triples(w0));
        assert.deepEqual(keys(w0), [2, 3, 4, 5, 6]);
        const popped = await w1.popMin();
        assert.deepEqual(popped.entry, { priority: 20, key: 2, value: 200 });
        await reach(popped.version, r0);
        assert.equal(r0.has(2), false);
        await closeHandles(w0, w1, r0, r1);
      },
      async late_writer_catchup() {
        const name = freshName();
        const w0 = open(n0, name);
        await online(w0);
        const v = await w0.extend([1, 2, 3, 4, 5].map((i) => [10 * i, i, 100 * i] as const));
        const w1 = open(n1, name);
        await online(w1);
        await reach(v, w1);
        assert.equal(size(w1), 5);
        await reach(await w1.insert(99, 99, 990), w0);
        assert.ok(size(w0) === 6 && w0.get(99) === 990 && w1.get(99) === 990);
        await closeHandles(w0, w1);
      },
      async single_node_updates_and_ranges() {
        const w = open(n2, freshName());
        await online(w);
        const base = [[10, 1, 100], [20, 2, 200], [30, 3, 300]] as const;
        // insert_overwrite, update_priority, update_value
        await w.extend(base);
        await w.updatePriority(1, 50);
        assert.ok(w.get(1) === 100 && w.getPriority(1) === 50 && size(w) === 3);
        assert.ok(w.minPriority() === 20 && w.maxPriority() === 50);
        await w.updatePriority(999, 1);
        assert.ok(size(w) === 3 && w.get(999) === undefined);
        await w.updateValue(2, 999);
        assert.ok(w.get(2) === 999 && w.getPriority(2) === 20);
        await w.updateValue(999, 42);
        assert.equal(size(w), 3);
        await w.insert(99, 1, 999);
        assert.ok(w.get(1) === 999 && w.getPriority(1) === 99);
        // remove_range
        await w.clear();
        const five = [1, 2, 3, 4, 5].map((i) => [10 * i, i, 100 * i] as const);
        await w.extend(five);
        await w.removeRange({ end: 25 });
        assert.deepEqual(keys(w), [3, 4, 5]);
        assert.equal(w.minPriority(), 30);
        await w.removeRange({ start: 45 });
        assert.deepEqual(keys(w), [3, 4]);
        assert.equal(w.maxPriority(), 40);
        await w.clear();
        await w.extend(five);
        await w.removeRange({ start: 20, end: 40, endInclusive: true });
        assert.deepEqual(keys(w), [1, 5]);
        await w.removeRange({ start: 10, startExclusive: true });
        assert.deepEqual(keys(w), [1]);
        await w.removeRange({});
        assert.ok(w.isEmpty);
        await w.removeRange({ end: 100 });
        assert.ok(w.isEmpty);
        // remove_nonexistent, remove_keys, extend_empty, extend_overwrite
        await w.extend(five);
        await w.remove(999);
        assert.equal(size(w), 5);
        await w.removeKeys([2, 4, 5]);
        assert.deepEqual(keys(w), [1, 3]);
        assert.ok(w.minPriority() === 10 && w.maxPriority() === 30);
        await w.removeKeys([1, 99, 100]);
        const at = w.version;
        assert.equal(await w.removeKeys([]), at);
        assert.equal(await w.extend([]), at);
        assert.deepEqual(keys(w), [3]);
        await w.clear();
        await w.extend(base);
        await w.extend([[99, 2, 999], [88, 3, 888], [40, 4, 400]]);
        assert.deepEqual(triples(w), [[10, 1, 100], [40, 4, 400], [88, 3, 888], [99, 2, 999]]);
        // same_priority_bucket and iteration order after mutations
        await w.clear();
        await w.extend([[10, 1, 100], [10, 2, 200], [10, 3, 300], [20, 4, 400]]);
        assert.ok([1, 2, 3].includes(w.min()!.key) && w.minPriority() === 10);
        await w.remove(2);
        assert.equal(w.minPriority(), 10);
        await w.removeKeys([1, 3]);
        assert.equal(w.minPriority(), 20);
        await w.clear();
        await w.extend([50, 10, 30, 20, 40].map((p, i) => [p, i + 1, p] as const));
        assert.deepEqual(prios(w.ascending()), [10, 20, 30, 40, 50]);
        assert.deepEqual(prios(w.descending()), [50, 40, 30, 20, 10]);
        await w.remove(3);
        assert.deepEqual(prios(w), [10, 20, 40, 50]);
        await w.updatePriority(2, 45);
        assert.deepEqual(prios(w), [20, 40, 45, 50]);
        // atomic pops
        assert.deepEqual((await w.popMax()).entry, { priority: 50, key: 1, value: 50 });
        assert.deepEqual((await w.popMin()).entry, { priority: 20, key: 4, value: 20 });
        await w.clear();
        assert.equal((await w.popMin()).entry, undefined);
        await closeHandles(w);
        const s = SharedPriorityQueue.writer<number, string, string>(n2, freshName());
        await online(s);
        await s.insert(10, "hello", "world");
        assert.ok(size(s) === 1 && s.get("hello") === "world" && s.getPriority("hello") === 10);
        await s.insert(20, "foo", "bar");
        assert.deepEqual([...s].map((e) => [e.priority, e.key, e.value]), [
          [10, "hello", "world"],
          [20, "foo", "bar"],
        ]);
        await closeHandles(s);
      },
      async compare_exchange_value() {
        const name = freshName();
        const w = open(n3, name);
        const r = SharedPriorityQueue.reader<number, number, number>(n0, name);
        await online(w, r);
        assert.equal((await w.compareExchangeValue(1, 100, 200)).swapped, false); // missing
        assert.ok(w.isEmpty);
        await w.extend([[5, 1, 100], [10, 2, 200], [20, 3, 300]]);
        const ok = await w.compareExchangeValue(2, 200, 250);
        assert.ok(ok.swapped && w.get(2) === 250 && w.getPriority(2) === 10);
        assert.deepEqual(prios(w), [5, 10, 20]);
        await reach(ok.version, r);
        assert.equal(r.get(2), 250);
        assert.equal((await w.compareExchangeValue(2, 999, 1)).swapped, false);
        assert.equal((await w.compareExchangeValue(2, 999, undefined)).swapped, false);
        assert.equal(w.get(2), 250);
        assert.ok((await w.compareExchangeValue(1, 100, undefined)).swapped);
        assert.ok(w.minPriority() === 10 && size(w) === 2);
        assert.ok((await w.compareExchangeValue(3, 300, undefined)).swapped);
        assert.ok(w.minPriority() === 10 && w.maxPriority() === 10 && size(w) === 1);
        // mixed with updates: the priority survives value swaps
        await w.clear();
        await w.insert(10, 1, 100);
        await w.compareExchangeValue(1, 100, 200);
        await w.updateValue(1, 300);
        await w.compareExchangeValue(1, 300, 400);
        await w.updatePriority(1, 50);
        await w.compareExchangeValue(1, 400, 500);
        assert.ok(w.get(1) === 500 && w.getPriority(1) === 50);
        await w.compareExchangeValue(1, 500, undefined);
        assert.ok(w.isEmpty);
        await w.insert(10, 1, 100);
        await w.compareExchangeValue(1, 100, 200);
        await w.insert(20, 2, 300);
        const v = (await w.compareExchangeValue(2, 300, 400)).version;
        const late = SharedPriorityQueue.reader<number, number, number>(n1, name);
        await online(late);
        await reach(v, late);
        assert.deepEqual(triples(late), [[10, 1, 200], [20, 2, 400]]);
        await closeHandles(w, r, late);
      },
      async bounded() {
        const name = freshName();
        const w = open(n1, name, 3);
        const r = SharedPriorityQueue.reader<number, number, number>(n2, name, { capacity: 3 });
        await online(w, r);
        assert.equal(w.capacity, 3);
        await w.insert(10, 1, 100);
        await w.insert(20, 2, 200);
        await w.insert(30, 3, 300);
        await reach(await w.insert(40, 4, 400), r);
        assert.deepEqual(keys(r), [2, 3, 4]);
        assert.ok(r.minPriority() === 20 && r.maxPriority() === 40);
        await w.updatePriority(2, 50);
        assert.ok(size(w) === 3 && w.getPriority(2) === 50, "updates do not evict");
        await w.clear();
        await w.insert(1, 1, 1);
        await w.insert(2, 2, 2);
        await reach(await w.extend([[3, 3, 3], [4, 4, 4], [5, 5, 5]]), r);
        assert.deepEqual(keys(r), [3, 4, 5]);
        const two = open(n1, freshName(), 2);
        await online(two);
        await two.insert(10, 1, 100);
        await two.insert(20, 2, 200);
        await two.insert(5, 3, 300);
        assert.deepEqual(keys(two), [1, 2], "an insert below everything evicts itself");
        await two.insert(5, 1, 150);
        assert.ok(size(two) === 2 && two.get(1) === 150 && two.getPriority(1) === 5);
        const other = open(n1, name); // unbounded: a different group
        assert.notEqual(other.groupId, w.groupId);
        await closeHandles(w, r, two, other);
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
