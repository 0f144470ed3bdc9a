// Plumtree's tables are bounded whatever a neighbour sends: ids it announces,
// ids remembered against duplicates, payloads cached for grafts.
import assert from "node:assert/strict";
import type { PeerId } from "@mosaik/transport";
import { Plumtree, type PtMessage } from "./_plumtree.ts";
import { VirtualScheduler } from "./_scheduler.ts";

const hostile = "hostile" as PeerId;
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
  const gossip = (i: number, payload = hex(i)) =>
    pt.handle(hostile, {
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

Deno.test("plumtree: payloads cached for grafts are bounded (16 MiB)", () => {
  const { pt, sent, gossip } = node(true);
  const big = (i: number) => hex(i) + "x".repeat(8192);
  for (let i = 0; i < 3_000; i++) gossip(i, big(i));
  const served = (i: number) => {
    sent.length = 0;
    pt.handle(hostile, { kind: "graft", ids: [hex(i)] });
    return sent.some((m) => m.kind === "gossip");
  };
  assert.equal(served(2_999), true);
  assert.equal(served(0), false); // evicted: 3,000 × 8 KiB is over the bound
});
