// HyParView neighbour replacement on real nodes: when neighbours crash, the
// survivors replace them from their passive views and broadcasts still reach
// every survivor.
import assert from "node:assert/strict";
import { tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { allSeeAll, closeAll, freshNetwork, startNode } from "./_harness.ts";

Deno.test("discovery: survivors replace crashed neighbours and keep broadcasting", async () => {
  const net = freshNetwork();
  const first = await startNode(net);
  const rest = await Promise.all(
    Array.from(
      { length: 11 },
      () => startNode(net, { discovery: { bootstrap: [first.endpoint.address] } }),
    ),
  );
  const nodes = [first, ...rest];
  try {
    await eventually(() => allSeeAll(nodes));
    await eventually(
      () => nodes.reduce((s, n) => s + n.discovery.neighbors().length, 0) >= 3 * nodes.length,
    );
    // Crash the three best-connected nodes (no departure).
    const victims = [...nodes].sort((a, b) =>
      b.discovery.neighbors().length - a.discovery.neighbors().length
    ).slice(0, 3);
    const dead = new Set(victims.map((v) => v.endpoint.peerId));
    await Promise.all(victims.map((v) => v.endpoint.close()));
    const survivors = nodes.filter((n) => !victims.includes(n));
    await eventually(() =>
      survivors.every((n) => {
        const nb = n.discovery.neighbors();
        return nb.length >= 1 && nb.every((p) => !dead.has(p));
      }), { message: "neighbours replaced" });
    for (const n of survivors) assert.ok(n.discovery.neighbors().length <= 5, "bounded view");
    const t = tag("after-crash");
    survivors[0].discovery.local.addTags(t);
    await eventually(
      () =>
        survivors.every((n) => n === survivors[0] || n.discovery.catalog.withTag(t).length === 1),
      { message: "broadcast reached every survivor" },
    );
  } finally {
    await closeAll(nodes);
  }
});
