// Catch-up and roles: late joiners by snapshot while writes continue
// (reference tests/collections/sync/*), handles of one store sharing a node,
// a reader-only node turning writer, and writers leaving cleanly.
import assert from "node:assert/strict";
import { SharedMap, SharedPriorityQueue, SharedSet, SharedVec } from "@mosaik/collections";
import { digest } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { closeAll, freshName, scenarios, startNetworks } from "./_harness.ts";
import { closeHandles, online, reach } from "./collections_harness.ts";

const N = 5000;
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

Deno.test("collections sync and roles over QUIC", async (t) => {
  const [n0, n1, n2, n3] = await startNetworks(4);
  try {
    await scenarios(t, {
      async frozen_and_writes_during_sync() {
        const name = freshName();
        const opts = { snapshotEvery: 100 };
        const w = SharedMap.writer<number, number>(n0, name, opts);
        const r1 = SharedMap.reader<number, number>(n1, name, opts);
        await online(w, r1);
        for (let i = 0; i < N; i += 500) {
          await w.extend(range(500, i).map((k) => [k, 10 * k] as const));
        }
        for (let i = 0; i < 150; i++) await w.insert(N + i, 10 * (N + i)); // past a compaction
        await reach(w.version, r1);
        const r2 = SharedMap.reader<number, number>(n2, name, opts); // late joiner
        const extra = await Promise.all(range(300, N + 150).map((k) => w.insert(k, 10 * k)));
        const last = Math.max(...extra);
        await online(r2);
        await reach(last, r1, r2);
        for (const r of [r1, r2]) {
          assert.equal(r.size, N + 450);
          for (let k = 0; k < N + 450; k += 97) assert.equal(r.get(k), 10 * k);
          assert.deepEqual([...r.entries()], [...w.entries()]);
        }
        await closeHandles(w, r1, r2);
      },
      async reads_during_catch_up_see_only_prefixes() {
        // Not vacuous (unlike the reference's): the reader checks on every
        // local change while it is still catching up, before it is online.
        const name = freshName();
        const w = SharedMap.writer<number, number>(n3, name, { snapshotEvery: 300 });
        await online(w);
        for (let i = 0; i < 2000; i += 100) {
          await w.extend(range(100, i).map((k) => [k, 10 * k] as const));
        }
        const target = w.version;
        const r = SharedMap.reader<number, number>(n0, name, { snapshotEvery: 300 });
        let checks = 0;
        while (r.version < target) {
          const n = r.size;
          assert.equal(n % 100, 0, "a batch is applied whole");
          for (let k = 0; k < n; k += 7) assert.equal(r.get(k), 10 * k);
          assert.ok(!r.has(n), "state is a prefix of the history");
          checks++;
          await r.when.updated();
        }
        assert.ok(checks >= 1);
        assert.equal(r.size, 2000);
        await closeHandles(w, r);
      },
      async reopen_while_the_last_handle_is_still_leaving() {
        const name = freshName();
        const w = SharedMap.writer<number, number>(n0, name);
        const r = SharedMap.reader<number, number>(n1, name);
        await online(w, r);
        await reach(await w.insert(1, 1), r);
        const closing = r.close(); // not awaited: the member is still leaving
        const again = SharedMap.reader<number, number>(n1, name);
        assert.equal(again.get(1), 1, "the reopened handle starts from the node's state");
        await closing;
        await online(again);
        await reach(await w.insert(2, 2), again);
        assert.equal(again.get(2), 2);
        await closeHandles(w, again);
      },
      async tickets_kinds_and_schemas_separate_groups() {
        const name = freshName();
        const validator = (id: string) => ({
          kind: "test",
          id: digest(id),
          validate: () => ({ ok: true as const, expiresAt: undefined }),
        });
        const handles = [
          SharedMap.writer(n1, name),
          SharedMap.writer(n1, name, { requireTicket: [validator("alpha")] }),
          SharedMap.writer(n1, name, { requireTicket: [validator("beta")] }),
          SharedMap.writer(n1, name, { schema: "v2" }),
          SharedSet.writer(n1, name),
          SharedPriorityQueue.writer(n1, name, { capacity: 10 }),
          SharedPriorityQueue.writer(n1, name),
        ];
        assert.equal(new Set(handles.map((h) => h.groupId)).size, handles.length);
        assert.equal(handles[0].storeId, handles[1].storeId, "tickets gate the group, not the id");
        await closeHandles(...handles);
      },
      async extreme_batch_sizes() {
        const name = freshName();
        const opts = { snapshotEvery: 1 };
        const w = SharedVec.writer<number>(n1, name, opts);
        const r1 = SharedVec.reader<number>(n2, name, opts);
        await online(w, r1);
        await reach(await w.extend(range(20_000)), r1); // one command
        for (let i = 0; i < 30; i++) await w.extend([i]); // single-element batches
        const r2 = SharedVec.reader<number>(n3, name, opts);
        await online(r2);
        await reach(w.version, r1, r2);
        for (const r of [r1, r2]) {
          assert.equal(r.size, 20_030);
          assert.ok(r.get(19_999) === 19_999 && r.get(20_029) === 29);
        }
        await closeHandles(w, r1, r2);
      },
      async clear_repopulate_and_recreate_reader() {
        const name = freshName();
        const opts = { snapshotEvery: 50 };
        const w = SharedSet.writer<number>(n1, name, opts);
        const r1 = SharedSet.reader<number>(n2, name, opts);
        await online(w, r1);
        await reach(await w.extend(range(500)), r1);
        assert.equal(r1.size, 500);
        await reach(await w.clear(), r1);
        assert.ok(r1.isEmpty);
        for (let i = 0; i < 60; i++) await w.insert(1000 + i);
        await r1.close();
        await w.extend(range(140, 2000));
        const again = SharedSet.reader<number>(n2, name, opts); // same node, new reader
        await online(again);
        await reach(w.version, again);
        assert.equal(again.size, 200);
        assert.ok(again.has(1000) && again.has(2139) && !again.has(0));
        await closeHandles(w, again);
      },
      async large_values() {
        const name = freshName();
        const opts = { snapshotEvery: 10 };
        const w = SharedVec.writer<string>(n2, name, opts);
        await online(w);
        const value = (i: number) => String(i).padStart(10_000, "0");
        for (let i = 0; i < 40; i++) await w.pushBack(value(i));
        const r = SharedVec.reader<string>(n3, name, opts);
        await online(r);
        await reach(w.version, r);
        assert.equal(r.size, 40);
        for (let i = 0; i < 40; i++) assert.equal(r.get(i), value(i));
        await closeHandles(w, r);
      },
      async pq_remove_range_and_min_max_after_sync() {
        const name = freshName();
        const opts = { snapshotEvery: 20 };
        const w = SharedPriorityQueue.writer<number, number, number>(n3, name, opts);
        await online(w);
        await w.extend(range(100).map((i) => [i, i, 10 * i] as const));
        await w.removeRange({ start: 20, end: 50 });
        for (const [p, k] of [[500, 1000], [100, 1001], [999, 1002], [-1, 1003], [750, 1004]]) {
          await w.insert(p, k, k);
        }
        for (let i = 0; i < 25; i++) await w.updateValue(i, i); // past a compaction
        const r = SharedPriorityQueue.reader<number, number, number>(n0, name, opts);
        await online(r);
        await reach(w.version, r);
        assert.equal(r.size, 75);
        assert.ok(!r.has(20) && !r.has(49) && r.has(50) && r.has(19));
        assert.deepEqual(r.min(), { priority: -1, key: 1003, value: 1003 });
        assert.deepEqual(r.max(), { priority: 999, key: 1002, value: 1002 });
        assert.deepEqual([...r], [...w]);
        await closeHandles(w, r);
      },
      async reader_then_writer_on_one_node_becomes_a_voter() {
        const name = freshName();
        const local = SharedMap.reader<string, number>(n0, name);
        const remote = SharedMap.reader<string, number>(n1, name);
        const w = SharedMap.writer<string, number>(n0, name); // the only writer
        assert.equal(w.groupId, local.groupId);
        await online(w, remote, local);
        const v = await w.insert("a", 1);
        assert.equal(local.get("a"), 1, "the reader handle on the writer's node sees the write");
        await reach(v, remote);
        assert.equal(remote.get("a"), 1);
        const updated = local.when.updated();
        await w.insert("b", 2);
        await updated;
        assert.equal(local.get("b"), 2);
        await closeHandles(local, w, remote);
      },
      async online_reader_node_opens_a_writer() {
        const name = freshName();
        const w0 = SharedMap.writer<number, number>(n2, name);
        const r = SharedMap.reader<number, number>(n3, name);
        await online(w0, r);
        await reach(await w0.extend(range(200).map((k) => [k, k] as const)), r);
        assert.ok(w0.voting, "a writer counts toward the quorum");
        assert.ok(!r.voting, "a reader does not");
        const seen: number[] = [];
        const watch = (async () => {
          while (!r.closed) {
            seen.push(r.version);
            assert.ok(r.size >= 200, "reads never go back while the node switches role");
            await r.when.updated();
          }
        })();
        const w1 = SharedMap.writer<number, number>(n3, name);
        await online(w1);
        const v = await w1.insert(1000, 1);
        assert.equal(r.get(1000), 1);
        await reach(v, w0);
        assert.equal(w0.get(1000), 1);
        await eventually(() => w0.members.voters.includes(n3.local.id), {
          message: "the reader's node became a voter",
        });
        assert.equal(w0.members.learners.includes(n3.local.id), false);
        await eventually(() => w1.voting, { message: "the promoted node votes" });
        assert.ok(seen.every((x, i) => i === 0 || x >= seen[i - 1]), "versions are monotonic");
        await closeHandles(w1, r);
        await watch;
        await closeHandles(w0);
      },
      async reader_on_a_writer_node_after_data() {
        const name = freshName();
        const w = SharedVec.writer<number>(n1, name);
        await online(w);
        await w.extend([1, 2, 3]);
        const r = SharedVec.reader<number>(n1, name);
        assert.deepEqual([...r], [1, 2, 3], "a second handle shares the node's state at once");
        await w.pushBack(4);
        assert.equal(r.back(), 4);
        await closeHandles(w);
        assert.equal(r.back(), 4, "closing one handle keeps the shared member");
        await closeHandles(r);
      },
      async closing_writer_leaves_so_the_rest_keeps_quorum() {
        const name = freshName();
        const w0 = SharedMap.writer<number, number>(n2, name, { group: { gracePeriod: 60_000 } });
        const w1 = SharedMap.writer<number, number>(n3, name, { group: { gracePeriod: 60_000 } });
        await online(w0, w1);
        await reach(await w1.insert(1, 1), w0);
        await w1.close();
        const v = await w0.insert(2, 2); // would stall for the grace period without the leave
        assert.equal(w0.get(2), 2);
        assert.ok(v > 0);
        await eventually(() => w0.online);
        await closeHandles(w0);
      },
    });
  } finally {
    await closeAll([n0, n1, n2, n3]);
  }
});
