import assert from "node:assert/strict";
import { type NetworkId, networkId, SecretKey } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import type { BootstrapContext } from "@mosaik/discovery";
import { dhtBootstrap, type DhtBootstrapSource, DhtNode, Rendezvous } from "@mosaik/discovery/dht";
import { rogueFlood, startSwarm } from "./dht_swarm.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A bootstrap context as discovery would give it, recording offered peers. */
function fakeContext(network: NetworkId, port: number) {
  const key = SecretKey.generate();
  const found = new Set<string>();
  const abort = new AbortController();
  const ctx: BootstrapContext = {
    networkId: network,
    secretKey: key,
    localAddresses: () => [`127.0.0.1:${port}`],
    peerCount: () => found.size,
    addPeer: (a) => found.add(a),
    signal: abort.signal,
  };
  return { ctx, key, found, address: `${key.peerId}@127.0.0.1:${port}`, abort };
}

async function meet(swarmAddresses: string[], count: number, network: NetworkId) {
  const nodes = Array.from({ length: count }, (_, i) => fakeContext(network, 20000 + i));
  const sources: DhtBootstrapSource[] = nodes.map(() =>
    dhtBootstrap({
      bootstrap: swarmAddresses.slice(0, 3),
      hostname: "127.0.0.1",
      aggressiveInterval: 200,
      relaxedInterval: 300,
    })
  );
  try {
    await Promise.all(sources.map((s, i) => s.start(nodes[i].ctx)));
    const metAll = (n: (typeof nodes)[number]) =>
      nodes.every((o) => o === n || n.found.has(o.address));
    await eventually(() => nodes.every(metAll), {
      timeout: 20_000,
      message: `each of ${count} nodes found every other`,
    });
    for (const n of nodes) assert.ok(!n.found.has(n.address), "never offers itself");
    return sources;
  } finally {
    for (const n of nodes) n.abort.abort();
    await Promise.all(sources.map((s) => s.close()));
  }
}

Deno.test({
  name: "dht rendezvous: two and then ten nodes meet through a bittorrent-dht swarm",
  ...opts,
}, async () => {
  const swarm = await startSwarm(30);
  try {
    await meet(swarm.addresses, 2, networkId(`two-${Math.random()}`));
    await meet(swarm.addresses, 10, networkId(`ten-${Math.random()}`));
  } finally {
    await swarm.close();
  }
});

Deno.test(
  { name: "dht rendezvous: records are self-certifying and resolvable by PeerId", ...opts },
  async () => {
    const swarm = await startSwarm(30);
    const node = await DhtNode.create({
      hostname: "127.0.0.1",
      bootstrap: swarm.addresses.slice(0, 3),
    });
    try {
      await node.bootstrap();
      const network = networkId("resolve");
      const key = SecretKey.generate();
      const rv = new Rendezvous(node, network, key);
      rv.setAddresses(["127.0.0.1:4433", "[::1]:4433"]);
      assert.ok((await rv.publish()) >= 3);
      const other = await DhtNode.create({
        hostname: "127.0.0.1",
        bootstrap: swarm.addresses.slice(5, 7),
      });
      try {
        await other.bootstrap();
        const reader = new Rendezvous(other, network, SecretKey.generate());
        const record = await reader.resolve(key.peerId);
        assert.equal(record?.peerId, key.peerId);
        assert.deepEqual(record?.addresses, ["127.0.0.1:4433", "[::1]:4433"]);
        // Another network's salt does not resolve it.
        assert.equal(
          await new Rendezvous(other, networkId("other"), SecretKey.generate()).resolve(key.peerId),
          undefined,
        );
      } finally {
        await other.close();
      }
    } finally {
      await node.close();
      await swarm.close();
    }
  },
);

Deno.test({
  name: "dht rendezvous: a rogue writer flooding every rendezvous key does not stop honest nodes",
  ...opts,
}, async () => {
  const swarm = await startSwarm(30);
  const network = networkId(`rogue-${Math.random()}`);
  const rogue = await rogueFlood(swarm.addresses.slice(0, 3), network);
  try {
    // Honest nodes still meet.
    await meet(swarm.addresses, 2, network);
  } finally {
    await rogue.close();
    await swarm.close();
  }
});
