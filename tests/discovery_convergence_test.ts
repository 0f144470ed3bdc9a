// Convergence: nodes that know one address end up with every other node in
// their catalogs, and a chain of bootstraps converges too.
import assert from "node:assert/strict";
import { tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { allSeeAll, closeAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";

Deno.test("discovery: 1 + 10 nodes bootstrapped from n0 all see all (converge_with_bootstrap)", async () => {
  const net = freshNetwork();
  const n0 = await startNode(net);
  const others = await Promise.all(
    Array.from(
      { length: 10 },
      () => startNode(net, { discovery: { bootstrap: [n0.endpoint.address] } }),
    ),
  );
  const nodes = [n0, ...others];
  try {
    await eventually(() => allSeeAll(nodes), { timeout: 10_000, message: "all see all" });
    for (const n of nodes) assert.equal(n.discovery.catalog.size, 10);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("discovery: 12 nodes bootstrapped as a chain all see all; runtime tags propagate", async () => {
  const net = freshNetwork();
  const nodes: TestNode[] = [];
  for (let i = 0; i < 12; i++) {
    nodes.push(
      await startNode(net, {
        discovery: { bootstrap: i === 0 ? [] : [nodes[i - 1].endpoint.address] },
      }),
    );
  }
  try {
    await eventually(() => allSeeAll(nodes), { timeout: 10_000, message: "all see all" });
    const matcher = tag("matcher");
    nodes[5].discovery.local.addTags(matcher);
    await eventually(
      () =>
        nodes.every((n, i) =>
          i === 5 || n.discovery.catalog.get(nodes[5].endpoint.peerId)?.tags.includes(matcher)
        ),
      { message: "tag reached everyone" },
    );
    for (const n of nodes.filter((_, i) => i !== 5)) {
      assert.deepEqual(n.discovery.catalog.withTag(matcher).map((e) => e.peerId), [
        nodes[5].endpoint.peerId,
      ]);
    }
    nodes[5].discovery.local.removeTags(matcher);
    await eventually(() => nodes.every((n) => n.discovery.catalog.withTag(matcher).length === 0));
  } finally {
    await closeAll(nodes);
  }
});
