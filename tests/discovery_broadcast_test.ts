// Plumtree against naive flooding on real nodes, and the fallback to catalog
// sync for entries too large for a gossip message.
import assert from "node:assert/strict";
import { tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import type { DiscoveryOptions } from "@mosaik/discovery";
import { allSeeAll, closeAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";

async function cluster(n: number, options: DiscoveryOptions): Promise<TestNode[]> {
  const net = freshNetwork();
  const first = await startNode(net, { discovery: options });
  const rest = await Promise.all(
    Array.from(
      { length: n - 1 },
      () => startNode(net, { discovery: { ...options, bootstrap: [first.endpoint.address] } }),
    ),
  );
  const nodes = [first, ...rest];
  await eventually(() => allSeeAll(nodes), { message: "all see all" });
  // Compare on a settled overlay: HyParView tops active views up over time.
  await eventually(
    () => nodes.reduce((s, n) => s + n.discovery.neighbors().length, 0) >= 3.5 * nodes.length,
    { message: "average degree 3.5" },
  );
  return nodes;
}

const gossipSent = (nodes: TestNode[]) =>
  nodes.reduce((s, n) => s + (n.discovery.stats.sent.gossip ?? 0), 0);
const ihaveSent = (nodes: TestNode[]) =>
  nodes.reduce((s, n) => s + (n.discovery.stats.sent.ihave ?? 0), 0);
const bytesSent = (nodes: TestNode[]) =>
  nodes.reduce((s, n) => s + n.discovery.stats.gossipBytesSent, 0);

/** Payload messages per broadcast, measured over `rounds` tag changes after a warm-up. */
async function measure(
  nodes: TestNode[],
  rounds: number,
): Promise<{ payload: number; ihave: number; bytes: number }> {
  const change = async (k: number) => {
    const origin = nodes[k % nodes.length];
    const t = tag(`round-${k}`);
    origin.discovery.local.addTags(t);
    await eventually(
      () =>
        nodes.every((n) =>
          n === origin || n.discovery.catalog.get(origin.endpoint.peerId)?.tags.includes(t)
        ),
      { message: `round ${k} delivered` },
    );
  };
  for (let k = 0; k < 3; k++) await change(k); // the tree forms
  const g0 = gossipSent(nodes);
  const i0 = ihaveSent(nodes);
  const b0 = bytesSent(nodes);
  for (let k = 3; k < 3 + rounds; k++) await change(k);
  return {
    payload: (gossipSent(nodes) - g0) / rounds,
    ihave: (ihaveSent(nodes) - i0) / rounds,
    bytes: (bytesSent(nodes) - b0) / rounds,
  };
}

Deno.test("discovery: Plumtree sends far fewer payload messages than flooding", async () => {
  const n = 16;
  const rounds = 8;
  const plumtree = await cluster(n, {});
  let tree;
  try {
    tree = await measure(plumtree, rounds);
  } finally {
    await closeAll(plumtree);
  }
  const flooding = await cluster(n, { gossip: { mode: "flood" } });
  let flood;
  try {
    flood = await measure(flooding, rounds);
  } finally {
    await closeAll(flooding);
  }
  console.log(
    `${n} nodes, payload messages per broadcast: plumtree ${tree.payload.toFixed(1)} ` +
      `(+${tree.ihave.toFixed(1)} IHAVE notices), flooding ${flood.payload.toFixed(1)}; ` +
      `ratio ${(flood.payload / tree.payload).toFixed(2)}× (optimum ${n - 1}); gossip bytes ` +
      `per broadcast: plumtree ${tree.bytes.toFixed(0)}, flooding ${flood.bytes.toFixed(0)} ` +
      `(ratio ${(flood.bytes / tree.bytes).toFixed(2)}×)`,
  );
  assert.ok(tree.payload < (n - 1) * 1.7, `plumtree ${tree.payload}`);
  assert.ok(flood.payload > tree.payload * 1.6, `flood ${flood.payload} vs ${tree.payload}`);
  assert.ok(flood.bytes > tree.bytes * 1.3, `flood ${flood.bytes} B vs ${tree.bytes} B`);
});

Deno.test("discovery: an entry too large for gossip spreads by notice and sync", async () => {
  const nodes = await cluster(5, { maxGossipMessage: 1024 });
  try {
    const data = crypto.getRandomValues(new Uint8Array(4000));
    nodes[2].discovery.local.setTicket({ kind: "big", data });
    await eventually(() =>
      nodes.every((n, i) =>
        i === 2 ||
        n.discovery.catalog.get(nodes[2].endpoint.peerId)?.tickets[0]?.data.length === 4000
      )
    );
    for (const n of nodes) {
      const t = n.discovery.catalog.get(nodes[2].endpoint.peerId)?.tickets[0];
      if (n !== nodes[2]) assert.deepEqual(t?.data, data);
    }
    // Nothing was dropped as oversized on the way.
    for (const n of nodes) {
      assert.equal(n.discovery.stats.dropped["undecodable-message"], undefined);
    }
  } finally {
    await closeAll(nodes);
  }
});
