// Streams over real QUIC endpoints with a static catalog (no gossip).
import assert from "node:assert/strict";
import { Endpoint, networkId, type Tag } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { StaticDiscovery, stream, Streams } from "@mosaik/streams";

interface Node {
  endpoint: Endpoint;
  discovery: StaticDiscovery;
  streams: Streams;
  close(): Promise<void>;
}

async function cluster(n: number, tags: Tag[][] = []): Promise<Node[]> {
  const net = networkId(crypto.randomUUID());
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const endpoint = await Endpoint.create({ networkId: net });
    const discovery = new StaticDiscovery({
      peerId: endpoint.peerId,
      addresses: [endpoint.hostPort],
      tags: tags[i] ?? [],
    });
    const streams = new Streams(endpoint, discovery, { backoff: { initial: 50 } });
    nodes.push({
      endpoint,
      discovery,
      streams,
      close: async () => {
        await streams.close();
        await endpoint.close();
      },
    });
  }
  StaticDiscovery.link(...nodes.map((x) => x.discovery));
  return nodes;
}

async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

const Data = stream<string>("static.data");

Deno.test("static: 2000 datums arrive in order", async () => {
  const [a, b] = await cluster(2);
  try {
    const producer = a.streams.produce(Data);
    const consumer = b.streams.consume(Data);
    await within(producer.when.subscribed(), 5000, "subscribed");
    for (let i = 0; i < 2000; i++) await producer.send(`d${i}`);
    for (let i = 0; i < 2000; i++) assert.equal(await consumer.recv(), `d${i}`);
    assert.equal(consumer.stats.datums, 2000);
    assert.equal(consumer.stats.gaps, 0);
    await eventually(() => producer.consumers()[0]?.stats.datums === 2000);
  } finally {
    await closeAll([a, b]);
  }
});
