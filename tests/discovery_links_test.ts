import assert from "node:assert/strict";
import { type Endpoint, type PeerId, tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import {
  allSeeAll,
  closeAll,
  freshNetwork,
  type Nodes,
  startNode,
  type TestNode,
} from "./_harness.ts";

/** `n` nodes, all but the first bootstrapped from the first. */
async function joined(n: number): Promise<Nodes<TestNode>> {
  const net = freshNetwork();
  const first = await startNode(net);
  const bootstrap = { discovery: { bootstrap: [first.endpoint.address] } };
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => startNode(net, bootstrap)));
  const all = [first, ...rest];
  return Object.assign(all, { [Symbol.asyncDispose]: () => closeAll(all) });
}

/** Channels open on `node`'s connection to `peer` (0 without a connection). */
function channels(node: { endpoint: Endpoint }, peer: PeerId): number {
  return node.endpoint.connection(peer)?.channelCount ?? 0;
}

Deno.test("gossip: a neighbour pair talks over one stream, both ways", async () => {
  await using nodes = await joined(2);
  const [a, b] = nodes;
  await eventually(() =>
    a.discovery.catalog.size === 1 && b.discovery.catalog.size === 1 &&
    a.discovery.neighbors().length === 1 && b.discovery.neighbors().length === 1
  );
  // Both sent gossip to the other (the join, then each one's announcements),
  // and once the first sync and ping are done one channel is left.
  assert.ok((a.discovery.stats.sent.gossip ?? 0) + (b.discovery.stats.sent.gossip ?? 0) > 0);
  await eventually(
    () => channels(a, b.endpoint.peerId) === 1 && channels(b, a.endpoint.peerId) === 1,
    {
      message: "one gossip channel between the two neighbours",
    },
  );
  // Still both ways: a change of a's entry reaches b over it.
  const moved = tag("moved");
  a.discovery.local.addTags(moved);
  await eventually(() => b.discovery.catalog.get(a.endpoint.peerId)?.tags.includes(moved) ?? false);
  assert.equal(channels(b, a.endpoint.peerId), 1);
});

Deno.test("gossip: neighbours hold one stream each, and nobody else holds one", async () => {
  await using all = await joined(8);
  await eventually(() => allSeeAll(all));
  // Joins through one contact churn the views; once they settle, each node
  // holds one channel per neighbour (also where both opened one at the same
  // moment) and none where a link was let go of. (Counted over every
  // connection: two nodes that dialed each other at once may hold two.)
  const held = () => all.map((x) => x.endpoint.resources().channels);
  const neighbours = () => all.map((x) => x.discovery.neighbors().length);
  await eventually(() => held().every((n, i) => n === neighbours()[i])).catch((e) => {
    throw new Error(`channels ${held()} against neighbours ${neighbours()}`, { cause: e });
  });
});
