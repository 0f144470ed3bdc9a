// Plumtree's tables are bounded whatever a neighbour sends: ids it announces,
// ids remembered against duplicates, payloads cached for grafts.
import assert from "node:assert/strict";
import type { PeerId } from "@mosaik/transport";
import { Plumtree, type PtMessage } from "./_plumtree.ts";
import { VirtualScheduler } from "./_scheduler.ts";

const hostile = "hostile" as PeerId;
const other = "other" as PeerId;
const hex = (i: number) => i.toString(16).padStart(32, "0");

/** A node with one neighbour; `delivered` lists what reached the application. */
function node(accept: boolean) {
  const clock = new VirtualScheduler();
  const sent: PtMessage[] = [];
  const delivered: string[] = [];
  const pt = new Plumtree({}, {
    send: (_, m) => sent.push(m),
    deliver: (payload) => {
      delivered.push(new TextDecoder().decode(payload));
      return accept;
    },
    id: (payload) => new TextDecoder().decode(payload).slice(0, 32),
  }, clock);
  pt.neighborUp(hostile);
  pt.neighborUp(other);
  const gossip = (i: number, payload = hex(i), from = hostile) =>
    pt.handle(from, {
      kind: "gossip",
      id: hex(i),
      round: 0,
      payload: new TextEncoder().encode(payload),
    });
  return { clock, pt, sent, delivered, gossip };
}

Deno.test("plumtree: 10,240 made-up ids announced by a neighbour get at most 1,024 grafts", () => {
  const { clock, pt, sent } = node(true);
  for (let m = 0; m < 40; m++) {
    const entries = Array.from(
      { length: 256 },
      (_, i) => [hex(m * 256 + i), 0] as [string, number],
    );
    pt.handle(hostile, { kind: "ihave", entries });
  }
  clock.run(10_000);
  const grafts = sent.filter((m) => m.kind === "graft").length;
  assert.ok(grafts <= 1024, `${grafts} grafts`);
});

Deno.test("plumtree: ids remembered against duplicates are bounded (100,000)", () => {
  const { delivered, gossip } = node(false);
  gossip(0);
  gossip(0);
  assert.equal(delivered.length, 1);
  for (let i = 1; i <= 100_000; i++) gossip(i);
  gossip(0); // forgotten: the oldest id made room
  assert.equal(delivered.length, 100_002);
});

/** Makes `hostile` a lazy neighbour that was told (IHAVE) of payloads `from`..`to` from `other`. */
function lazyHostile(accept: boolean, count: number, payload: (i: number) => string = hex) {
  const n = node(accept);
  n.pt.handle(hostile, { kind: "prune" });
  for (let i = 0; i < count; i++) n.gossip(i, payload(i), other);
  n.clock.run(n.clock.now() + 10);
  const graft = (ids: number[]) => {
    n.sent.length = 0;
    n.pt.handle(hostile, { kind: "graft", ids: ids.map(hex) });
    return n.sent.filter((m) => m.kind === "gossip").length;
  };
  return { ...n, graft };
}

Deno.test("plumtree: payloads cached for grafts are bounded (16 MiB)", () => {
  const { graft } = lazyHostile(true, 3_000, (i) => hex(i) + "x".repeat(8192));
  assert.equal(graft([2_999]), 1);
  assert.equal(graft([0]), 0); // evicted: 3,000 × 8 KiB is over the bound
});

Deno.test("plumtree: a graft gets only payloads announced to it, each once", () => {
  const { graft } = lazyHostile(true, 300);
  const ids = Array.from({ length: 256 }, (_, i) => i);
  assert.equal(graft(ids), 256);
  assert.equal(graft(ids), 0); // the same GRAFT again buys nothing
  assert.equal(graft([299]), 1);
  // Ids never announced to it (ours and unknown ones) are not served.
  const fresh = node(true);
  fresh.gossip(5, hex(5), other);
  fresh.clock.run(10);
  fresh.sent.length = 0;
  fresh.pt.handle(hostile, { kind: "graft", ids: [hex(5), hex(6)] });
  assert.equal(fresh.sent.filter((m) => m.kind === "gossip").length, 0);
});

Deno.test("plumtree: what a neighbour sent before it left is taken for 2 s, then nothing of it", () => {
  const { clock, pt, sent, delivered, gossip } = node(true);
  pt.neighborDown(hostile);
  // Its announcement was on the way when we dropped it (a joiner its contact
  // evicted): delivered and forwarded, without making it a tree link again.
  assert.equal(gossip(1), undefined);
  assert.deepEqual(delivered, [hex(1)]);
  assert.ok(sent.some((m) => m.kind === "gossip" && m.id === hex(1)));
  assert.ok(!pt.eager.has(hostile) && !pt.lazy.has(hostile));
  // Only payloads: its notices and grafts are refused.
  assert.equal(pt.handle(hostile, { kind: "ihave", entries: [[hex(2), 0]] }), "not-neighbour");
  assert.equal(pt.handle(hostile, { kind: "graft", ids: [hex(1)] }), "not-neighbour");
  clock.run(2_001);
  assert.equal(gossip(3), "not-neighbour");
  assert.deepEqual(delivered, [hex(1)]);
  // A peer that never was a neighbour gets nothing in.
  assert.equal(gossip(4, hex(4), "stranger" as PeerId), "not-neighbour");
});

Deno.test("plumtree: at most 64 former neighbours are remembered", () => {
  const { pt, delivered, gossip } = node(true);
  const peers = Array.from({ length: 65 }, (_, i) => `p${i}` as PeerId);
  for (const p of peers) pt.neighborUp(p);
  for (const p of peers) pt.neighborDown(p);
  assert.equal(gossip(1, hex(1), peers[0]), "not-neighbour"); // forgotten first
  assert.equal(gossip(2, hex(2), peers[64]), undefined);
  assert.deepEqual(delivered, [hex(2)]);
});

Deno.test("plumtree: a payload known by other means is neither delivered nor forwarded, and prunes no link", () => {
  const { pt, sent, delivered, gossip } = node(true);
  pt.markKnown(hex(7));
  gossip(7);
  assert.deepEqual(delivered, []);
  assert.equal(sent.length, 0, "neither forwarded nor pruned");
  assert.ok(pt.eager.has(hostile), "the link stays in the tree");
  gossip(8);
  gossip(8, hex(8), other);
  assert.deepEqual(
    sent.filter((m) => m.kind === "prune").length,
    1,
    "a true duplicate still prunes",
  );
});

Deno.test("plumtree: naive flooding forwards a payload known by other means (the baseline stays naive)", () => {
  const sent: PtMessage[] = [];
  const pt = new Plumtree({ mode: "flood" }, {
    send: (_, m) => sent.push(m),
    deliver: () => true,
    id: (payload) => new TextDecoder().decode(payload),
  }, new VirtualScheduler());
  pt.neighborUp(hostile);
  pt.neighborUp(other);
  pt.markKnown(hex(7));
  pt.handle(hostile, {
    kind: "gossip",
    id: hex(7),
    round: 0,
    payload: new TextEncoder().encode(hex(7)),
  });
  assert.deepEqual(sent.map((m) => m.kind), ["gossip"], "forwarded to the other neighbour");
});

Deno.test("plumtree: a known id is forgotten with the seen ones (its later copies prune again)", () => {
  const { clock, pt, sent, delivered, gossip } = node(true);
  pt.markKnown(hex(9));
  clock.run(clock.now() + 90_001); // past idRetention
  gossip(10); // expires what is older
  gossip(9);
  assert.deepEqual(delivered, [hex(10), hex(9)]);
  gossip(9, hex(9), other);
  assert.equal(sent.filter((m) => m.kind === "prune").length, 1, "a duplicate of it prunes");
});
