// An island of the overlay (nodes whose active views hold only each other)
// still hears of the rest: anti-entropy in steady state now and then syncs
// with a random catalog peer instead of a neighbour.
import assert from "node:assert/strict";
import { tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { allSeeAll, closeAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";

Deno.test("discovery: two islands of the overlay still learn each other's changes", async () => {
  const net = freshNetwork();
  // One neighbour each, and no shuffle or top-up during the test: a pair
  // whose views are full of each other is an island for good.
  const discovery = {
    syncInterval: 300,
    gossip: { activeSize: 1, shuffleInterval: 3_600_000 },
  };
  const a = await startNode(net, { discovery });
  const b = await startNode(net, { discovery: { ...discovery, bootstrap: [a.endpoint.address] } });
  const c = await startNode(net, { discovery });
  const d = await startNode(net, { discovery: { ...discovery, bootstrap: [c.endpoint.address] } });
  const nodes: TestNode[] = [a, b, c, d];
  const neighbors = (x: TestNode) => x.discovery.neighbors();
  try {
    await eventually(() => neighbors(a).length === 1 && neighbors(c).length === 1);
    // A single sync between the islands: catalogs meet, views stay apart.
    a.discovery.addPeer(c.endpoint.address);
    await eventually(() => allSeeAll(nodes), { message: "all see all" });
    assert.deepEqual(neighbors(a), [b.endpoint.peerId]);
    assert.deepEqual(neighbors(c), [d.endpoint.peerId]);
    // A change on one island reaches the other only by a sync across.
    const t = tag("across");
    c.discovery.local.addTags(t);
    await eventually(
      () => [a, b].every((x) => x.discovery.catalog.get(c.endpoint.peerId)?.tags.includes(t)),
      { timeout: 15_000, message: "the other island learned the change" },
    );
    assert.deepEqual(neighbors(a), [b.endpoint.peerId], "still an island");
  } finally {
    await closeAll(nodes);
  }
});
