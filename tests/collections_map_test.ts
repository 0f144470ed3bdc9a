// Port of the reference's collections map suite (tests/collections/map.rs)
// over real Network nodes on loopback; scenarios run concurrently on
// shared nodes, each on its own store.
import assert from "node:assert/strict";
import { SharedMap, WriteError } from "@mosaik/collections";
import { eventually } from "@mosaik/transport/testing";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

type M = Map<number, number>;
const size = (h: { size: number }): number => h.size;
const asMap = (h: Iterable<readonly [number, number]>): M => new Map(h);

Deno.test("collections map: reference scenarios over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  try {
    await scenarios(t, {
      async smoke_no_catchup() {
        const name = freshName();
        const w = SharedMap.writer<number, number>(n0, name);
        const r = SharedMap.reader<number, number>(n1, name);
        await online(w, r);
        assert.ok(r.isEmpty && size(r) === 0 && r.get(1) === undefined && !r.has(1));
        assert.equal([...r.entries()].length + [...r.keys()].length + [...r.values()].length, 0);
        await reach(await w.insert(1, 10), r);
        assert.ok(size(r) === 1 && !r.isEmpty && r.get(1) === 10 && r.has(1) && !r.has(2));
        await reach(await w.insert(2, 20), r);
        assert.equal(r.get(2), 20);
        await reach(await w.insert(1, 100), r);
        assert.ok(size(r) === 2 && r.get(1) === 100);
        await reach(await w.extend([[3, 30], [4, 40], [5, 50]]), r);
        assert.equal(r.size, 5);
        assert.ok(r.has(3) && !r.has(99));
        assert.deepEqual(asMap(r), new Map([[1, 100], [2, 20], [3, 30], [4, 40], [5, 50]]));
        assert.deepEqual(new Set(r.keys()), new Set([1, 2, 3, 4, 5]));
        assert.ok([...r.values()].includes(100) && [...r.values()].includes(50));
        await reach(await w.remove(3), r);
        assert.ok(size(r) === 4 && r.get(3) === undefined && !r.has(3));
        await reach(await w.clear(), r);
        assert.ok(r.isEmpty && size(r) === 0);
        await closeHandles(w, r);
      },
      async catchup_single_reader_and_multiple_readers() {
        const name = freshName();
        const w = SharedMap.writer<number, number>(n0, name, { snapshotEvery: 32 });
        await online(w);
        for (let i = 0; i < 50; i++) await w.insert(i, 10 * i);
        const mid = await w.insert(999, 9990);
        const r1 = SharedMap.reader<number, number>(n1, name, { snapshotEvery: 32 });
        await online(r1);
        await reach(mid, r1);
        assert.ok(size(r1) === 51 && r1.get(999) === 9990 && r1.get(7) === 70);
        for (let i = 50; i < 80; i++) await w.insert(i, 10 * i);
        const late = await w.extend([[100, 1000], [101, 1010], [1000, 10000]]);
        const r2 = SharedMap.reader<number, number>(n2, name, { snapshotEvery: 32 });
        await online(r2);
        await reach(late, r1, r2);
        assert.ok(size(r1) === 84 && size(r2) === 84 && r2.get(1000) === 10000);
        assert.deepEqual([...r2.entries()], [...w.entries()]); // same order everywhere
        assert.deepEqual([...r1.entries()], [...w.entries()]);
        await reach(await w.remove(50), r2);
        assert.ok(size(r2) === 83 && r2.get(50) === undefined);
        await closeHandles(w, r1, r2);
      },
      async multiple_readers() {
        const name = freshName();
        const w = SharedMap.writer<number, number>(n0, name);
        const rs = [n1, n2, n3].map((n) => SharedMap.reader<number, number>(n, name));
        await online(w, ...rs);
        await eventually(() => w.members.learners.length === 3, {
          message: "readers are learners",
        });
        assert.deepEqual(w.members.voters, [n0.local.id], "only the writer votes");
        await reach(await w.extend([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]]), ...rs);
        for (const r of rs) assert.ok(size(r) === 5 && r.get(1) === 10 && r.get(5) === 50);
        await reach(await w.insert(6, 60), ...rs);
        for (const r of rs) assert.ok(r.get(6) === 60 && size(r) === 6);
        await reach(await w.remove(1), ...rs);
        for (const r of rs) assert.ok(size(r) === 5 && r.get(1) === undefined);
        await closeHandles(w, ...rs);
      },
      async multiple_writers_many_readers() {
        const name = freshName();
        const w0 = SharedMap.writer<number, number>(n0, name);
        const w1 = SharedMap.writer<number, number>(n1, name);
        const r0 = SharedMap.reader<number, number>(n2, name);
        const r1 = SharedMap.reader<number, number>(n3, name);
        await online(w0, w1, r0, r1);
        await reach(await w0.insert(1, 100), r0);
        await reach(await w1.insert(2, 200), r0);
        await reach(await w0.insert(3, 300), r0);
        assert.ok(size(r0) === 3 && r0.get(2) === 200);
        const v = await w1.extend([[4, 400], [5, 500]]);
        await reach(v, w0, w1, r0, r1);
        assert.equal(r1.size, 5);
        await reach(await w0.remove(1), r0, r1);
        const last = await w1.insert(6, 60);
        await reach(last, w0, r0, r1);
        for (const h of [w1, r0, r1]) assert.deepEqual([...h.entries()], [...w0.entries()]);
        assert.deepEqual([...w0.keys()].sort((a, b) => a - b), [2, 3, 4, 5, 6]);
        await closeHandles(w0, w1, r0, r1);
      },
      async late_writer_catchup() {
        const name = freshName();
        const w0 = SharedMap.writer<number, number>(n0, name);
        await online(w0);
        const v = await w0.extend([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]]);
        const w1 = SharedMap.writer<number, number>(n1, name);
        await online(w1);
        await reach(v, w1);
        assert.equal(w1.size, 5);
        await reach(await w1.insert(99, 990), w0);
        assert.ok(size(w0) === 6 && w0.get(99) === 990 && w1.get(99) === 990);
        await closeHandles(w0, w1);
      },
      async single_node_semantics() {
        // insert/extend overwrite, remove missing, clear+rebuild, empty extend,
        // remove_all, remove_many, string keys and reads of own writes.
        const w = SharedMap.writer<number, number>(n3, freshName());
        await online(w);
        await w.insert(1, 10);
        await w.insert(1, 99);
        assert.ok(w.get(1) === 99 && size(w) === 1);
        await w.extend([[2, 20], [3, 30]]);
        await w.extend([[2, 200], [3, 300], [4, 400]]);
        assert.deepEqual(asMap(w), new Map([[1, 99], [2, 200], [3, 300], [4, 400]]));
        const before = w.version;
        assert.ok((await w.remove(999)) > before, "a no-op still takes a version");
        assert.equal(w.size, 4);
        await w.clear();
        assert.ok(w.isEmpty);
        await w.insert(100, 1000);
        assert.ok(size(w) === 1 && w.get(100) === 1000 && w.get(1) === undefined);
        const at = w.version;
        assert.equal(await w.extend([]), at, "an empty extend resolves at once");
        assert.equal(await w.removeMany([]), at);
        await w.extend([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
        await w.removeMany([2, 4, 5]);
        assert.deepEqual([...w.keys()].sort((a, b) => a - b), [1, 3, 100]);
        await w.removeMany([1, 99, 100]);
        assert.deepEqual([...w.keys()], [3]);
        await w.remove(3);
        assert.ok(w.isEmpty);
        await closeHandles(w);
        const s = SharedMap.writer<string, string>(n3, freshName());
        await online(s);
        await s.insert("hello", "world");
        assert.ok(size(s) === 1 && s.get("hello") === "world" && s.has("hello") && !s.has("x"));
        await s.insert("foo", "bar");
        assert.deepEqual([...s.entries()], [["hello", "world"], ["foo", "bar"]]);
        await closeHandles(s);
      },
      async compare_exchange() {
        const name = freshName();
        const w = SharedMap.writer<number, number>(n0, name);
        const r = SharedMap.reader<number, number>(n2, name);
        await online(w, r);
        assert.equal((await w.compareExchange(1, undefined, 10)).swapped, true); // insert new key
        assert.equal((await w.compareExchange(1, 10, 99)).swapped, true);
        assert.equal(w.get(1), 99);
        assert.equal((await w.compareExchange(1, 999, 200)).swapped, false);
        assert.equal((await w.compareExchange(1, undefined, 300)).swapped, false);
        assert.equal(w.get(1), 99);
        assert.equal((await w.compareExchange(7, 42, 99)).swapped, false); // missing key
        assert.equal(w.has(7), false);
        assert.equal((await w.compareExchange(8, undefined, undefined)).swapped, true);
        assert.equal(w.has(8), false);
        await w.extend([[2, 20], [3, 30]]);
        await w.compareExchange(2, 20, undefined); // remove
        const { version } = await w.compareExchange(4, undefined, 40);
        await reach(version, r);
        assert.deepEqual(asMap(r), new Map([[1, 99], [3, 30], [4, 40]]));
        // chained None -> 1 -> 2 -> 3 -> None
        for (const [a, b] of [[undefined, 1], [1, 2], [2, 3], [3, undefined]] as const) {
          assert.ok((await w.compareExchange(5, a, b)).swapped);
          assert.equal(w.get(5), b);
        }
        await w.remove(1);
        assert.ok((await w.compareExchange(1, undefined, 30)).swapped);
        await w.clear();
        assert.ok((await w.compareExchange(1, undefined, 40)).swapped && size(w) === 1);
        const late = SharedMap.reader<number, number>(n3, name);
        await online(late);
        await reach(w.version, late);
        assert.deepEqual(asMap(late), new Map([[1, 40]]));
        const s = SharedMap.writer<string, string>(n0, freshName());
        await online(s);
        assert.ok((await s.compareExchange("key", undefined, "value")).swapped);
        assert.ok((await s.compareExchange("key", "value", "updated")).swapped);
        assert.ok((await s.compareExchange("key", "updated", undefined)).swapped && s.isEmpty);
        await closeHandles(w, r, late, s);
      },
      async reader_before_writer_and_writer_plus_reader_on_one_node() {
        const name = freshName();
        const r = SharedMap.reader<number, number>(n1, name);
        const w = SharedMap.writer<number, number>(n0, name);
        const same = SharedMap.reader<number, number>(n0, name); // same node as the writer
        await online(r, w, same);
        await reach(await w.extend(Array.from({ length: 100 }, (_, i) => [i, i])), r, same);
        assert.ok(size(r) === 100 && size(same) === 100 && same.get(42) === 42);
        await closeHandles(same);
        await reach(await w.insert(1000, 1), r);
        assert.equal(w.get(1000), 1, "the writer keeps working after the reader closed");
        await closeHandles(w, r);
      },
      async offline_writes_hand_input_back() {
        const w = SharedMap.writer<string, number>(n2, freshName(), {
          group: { commandTimeout: 300, formationWindow: 60_000 },
        });
        const err = await w.insert("k", 7).catch((e) => e);
        assert.ok(err instanceof WriteError && err.reason === "offline", String(err));
        assert.deepEqual(err.input, ["k", 7]);
        const bad = await w.insert("f", (() => {}) as unknown as number).catch((e) => e);
        assert.ok(bad instanceof WriteError && bad.reason === "encoding", String(bad));
        assert.equal(await w.extend([]), 0, "an empty batch succeeds even offline");
        const huge = await w.insert("h", "x".repeat(5 << 20) as unknown as number).catch((e) => e);
        assert.ok(huge instanceof WriteError && huge.reason === "too-large", String(huge));
        await w.close();
        const closed = await w.insert("k", 1).catch((e) => e);
        assert.ok(closed instanceof WriteError && closed.reason === "closed");
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
