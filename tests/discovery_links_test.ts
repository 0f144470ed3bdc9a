import assert from "node:assert/strict";
import { Endpoint, networkId, type PeerId, tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Discovery } from "@mosaik/discovery";

async function nodes(n: number) {
  const net = networkId(crypto.randomUUID());
  const endpoints = await Promise.all(
    Array.from({ length: n }, () => Endpoint.create({ networkId: net })),
  );
  const first = endpoints[0];
  const all = await Promise.all(endpoints.map(async (endpoint) => ({
    endpoint,
    discovery: await Discovery.create(
      endpoint,
      endpoint === first ? {} : { bootstrap: [first.address] },
    ),
  })));
  return {
    all,
    async [Symbol.asyncDispose]() {
      await Promise.all(all.map(async (x) => {
        await x.discovery.close();
        await x.endpoint.close();
      }));
    },
  };
}

/** Channels open on `node`'s connection to `peer` (0 without a connection). */
function channels(node: { endpoint: Endpoint }, peer: PeerId): number {
  return node.endpoint.connection(peer)?.channelCount ?? 0;
}

Deno.test("gossip: a neighbour pair talks over one stream, both ways", async () => {
  await using net = await nodes(2);
  const [a, b] = net.all;
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
  await using net = await nodes(8);
  const { all } = net;
  await eventually(() => all.every((x) => x.discovery.catalog.size === all.length - 1));
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
