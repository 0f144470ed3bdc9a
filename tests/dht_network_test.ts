import assert from "node:assert/strict";
import { Network } from "@mosaik/network";
import { within } from "@mosaik/transport/testing";
import { networkId } from "@mosaik/transport";
import { rogueFlood, startSwarm } from "./dht_swarm.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function meet(routers: string[], count: number, name = `dht-meet-${crypto.randomUUID()}`) {
  const nodes = await Promise.all(
    Array.from(
      { length: count },
      () =>
        Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: { bootstrap: routers } }),
    ),
  );
  try {
    // No bootstrap peers: the DHT swarm is the only way they can meet.
    await within(
      Promise.all(nodes.map((n) => n.discovery.when.peers({ minimum: count - 1 }))),
      30_000,
      `${count} networks met through the DHT`,
    );
    for (const n of nodes) {
      for (const o of nodes) {
        if (o !== n) {
          assert.ok(n.discovery.catalog.get(o.local.id), "catalog holds every other node");
        }
      }
    }
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

Deno.test({
  name:
    "dht: two and then ten Networks with no bootstrap peers meet through a bittorrent-dht swarm",
  ...opts,
}, async () => {
  const swarm = await startSwarm(30);
  try {
    await meet(swarm.addresses.slice(0, 3), 2);
    await meet(swarm.addresses.slice(3, 6), 10);
  } finally {
    await swarm.close();
  }
});

Deno.test({
  name: "dht: a rogue flooding every rendezvous key does not stop Networks from meeting",
  ...opts,
}, async () => {
  const swarm = await startSwarm(30);
  const name = `dht-rogue-${crypto.randomUUID()}`;
  const rogue = await rogueFlood(swarm.addresses.slice(0, 3), networkId(name));
  try {
    await meet(swarm.addresses.slice(3, 6), 2, name);
  } finally {
    await rogue.close();
    await swarm.close();
  }
});
