// Port of the reference's cell and once suites (tests/collections/{cell,once}.rs)
// over real Network nodes.
import assert from "node:assert/strict";
import { SharedCell, SharedOnce } from "@mosaik/collections";
import { within } from "@mosaik/transport/testing";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

Deno.test("collections cell and once: reference scenarios over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  try {
    await scenarios(t, {
      async cell_smoke_no_catchup() {
        const name = freshName();
        const w = SharedCell.writer<number>(n0, name);
        const r = SharedCell.reader<number>(n1, name);
        await online(w, r);
        assert.ok(r.isEmpty && r.get() === undefined);
        await reach(await w.clear(), r); // clear_empty
        assert.ok(r.isEmpty);
        await reach(await w.write(42), r);
        assert.ok(!r.isEmpty && r.get() === 42);
        await reach(await w.write(99), r);
        assert.equal(r.get(), 99);
        await reach(await w.clear(), r);
        assert.ok(r.isEmpty && r.get() === undefined);
        await closeHandles(w, r);
      },
      async cell_catchup_multiple_readers() {
        const name = freshName();
        const w = SharedCell.writer<number>(n0, name, { snapshotEvery: 16 });
        await online(w);
        for (let i = 0; i < 50; i++) await w.write(i);
        const mid = await w.write(999);
        const r1 = SharedCell.reader<number>(n1, name, { snapshotEvery: 16 });
        await online(r1);
        await reach(mid, r1);
        assert.equal(r1.get(), 999);
        for (let i = 50; i < 80; i++) await w.write(i);
        const late = await w.write(1000);
        const r2 = SharedCell.reader<number>(n2, name, { snapshotEvery: 16 });
        await online(r2);
        await reach(late, r1, r2);
        assert.ok(r1.get() === 1000 && r2.get() === 1000);
        await reach(await w.clear(), r1, r2);
        assert.ok(r1.isEmpty && r2.isEmpty);
        await closeHandles(w, r1, r2);
      },
      async cell_many_writers_many_readers() {
        const name = freshName();
        const w0 = SharedCell.writer<number>(n0, name);
        const w1 = SharedCell.writer<number>(n1, name);
        const r0 = SharedCell.reader<number>(n2, name);
        const r1 = SharedCell.reader<number>(n3, name);
        await online(w0, w1, r0, r1);
        await reach(await w0.write(10), r0, r1);
        assert.ok(r0.get() === 10 && r1.get() === 10);
        await reach(await w1.write(20), r0, r1);
        assert.equal(r0.get(), 20);
        await reach(await w0.clear(), w1);
        const v = await w1.write(30);
        await reach(v, w0, r0, r1);
        for (const h of [w0, w1, r0, r1]) assert.equal(h.get(), 30);
        await closeHandles(w0, w1, r0, r1);
      },
      async cell_compare_exchange() {
        const name = freshName();
        const w = SharedCell.writer<number>(n2, name);
        await online(w);
        assert.ok((await w.compareExchange(undefined, 10)).swapped);
        assert.ok((await w.compareExchange(10, 99)).swapped);
        assert.equal(w.get(), 99);
        assert.equal((await w.compareExchange(100, 200)).swapped, false);
        assert.equal((await w.compareExchange(undefined, 300)).swapped, false);
        assert.equal(w.get(), 99);
        assert.ok((await w.compareExchange(99, undefined)).swapped);
        assert.ok(w.isEmpty);
        assert.equal((await w.compareExchange(42, 99)).swapped, false);
        assert.ok((await w.compareExchange(undefined, undefined)).swapped);
        assert.ok(w.isEmpty);
        // chained None -> 1 -> 2 -> 3 -> None, mixed with write and clear
        for (const [a, b] of [[undefined, 1], [1, 2], [2, 3], [3, undefined]] as const) {
          assert.ok((await w.compareExchange(a, b)).swapped);
        }
        await w.write(10);
        await w.compareExchange(10, 20);
        await w.clear();
        await w.compareExchange(undefined, 30);
        const v = await w.write(40);
        const late = SharedCell.reader<number>(n3, name);
        await online(late);
        await reach(v, late);
        assert.equal(late.get(), 40);
        for (let i = 0; i < 10; i++) {
          await w.write(i);
          assert.equal(w.get(), i);
          await w.clear();
          assert.ok(w.isEmpty);
        }
        const s = SharedCell.writer<{ fee: number }>(n2, freshName());
        await online(s);
        await s.write({ fee: 3 });
        assert.ok((await s.compareExchange({ fee: 3 }, { fee: 4 })).swapped);
        assert.deepEqual(s.get(), { fee: 4 });
        assert.ok(Object.isFrozen(s.get()), "stored values are frozen");
        await closeHandles(w, late, s);
      },
      async once_smoke_and_first_write_wins() {
        const name = freshName();
        const w0 = SharedOnce.writer<number>(n0, name);
        const w1 = SharedOnce.writer<number>(n1, name);
        const r = SharedOnce.reader<number>(n2, name);
        await online(w0, w1, r);
        assert.ok(r.isEmpty && r.get() === undefined);
        await reach(await w0.write(10), r);
        assert.equal(r.get(), 10);
        const later = await w1.write(20);
        assert.ok(later > 0, "later writes still take a version");
        await reach(later, r, w0);
        await reach(await w0.write(30), w1, r);
        for (const h of [w0, w1, r]) assert.equal(h.get(), 10);
        const late = SharedOnce.reader<number>(n3, name);
        await online(late);
        await reach(w0.version, late);
        assert.equal(late.get(), 10);
        await closeHandles(w0, w1, r, late);
      },
      async once_await_value_and_catchup() {
        const name = freshName();
        const r = SharedOnce.reader<string>(n3, name);
        const waiting = r.awaitValue();
        const w = SharedOnce.writer<string>(n0, name, { snapshotEvery: 8 });
        await online(w);
        await w.write("hello");
        for (let i = 0; i < 20; i++) await w.write(`x${i}`);
        assert.equal(await within(waiting, 10_000, "awaitValue"), "hello");
        assert.equal(await within(w.awaitValue(), 100, "immediate"), "hello");
        const late = SharedOnce.reader<string>(n1, name, { snapshotEvery: 8 });
        await online(late);
        await reach(w.version, late);
        assert.equal(late.get(), "hello");
        await closeHandles(r, w, late);
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
