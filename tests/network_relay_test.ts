import assert from "node:assert/strict";
import { Endpoint, isRelayAddress } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { Network, renderMetrics } from "@mosaik/network";
import { tag } from "@mosaik/transport";

const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;

Deno.test("network: a node with a relay reservation is reached through the relayed address its entry carries", async () => {
  const name = `relay-${crypto.randomUUID()}`;
  await using r = await Network.create(name, { ...local, relay: true });
  // n advertises no direct address: peers can only come through the relay.
  await using n = await Network.create(name, {
    ...local,
    relays: [r.local.address],
    bootstrap: [r.local.address],
    discovery: { addresses: [] },
  });
  await using p = await Network.create(name, { ...local, bootstrap: [r.local.address] });
  n.endpoint.handle("/echo/1", async (ch) => {
    for await (const m of ch) await ch.send(m);
  });
  await p.discovery.when.peers({ minimum: 2 });
  assert.ok(p.discovery.catalog.get(r.local.id)?.tags.includes(tag("mosaik/relay")));
  const relayed = `relay:${r.local.address}`;
  await eventually(() => p.discovery.catalog.get(n.local.id)?.addresses.includes(relayed), {
    message: "n's entry carries its relayed address",
  });
  // A newcomer that knows only n's entry dials it through the relay.
  await using q = await Endpoint.create({ networkId: n.networkId });
  const addresses = p.discovery.catalog.get(n.local.id)!.addresses;
  assert.ok(addresses.every(isRelayAddress), String(addresses));
  const ch = await within(q.open(n.local.id, addresses, "/echo/1"), 10_000);
  await ch.send("via the relay");
  assert.equal(await ch.recv(), "via the relay");
  await ch.close();
  const metrics = renderMetrics(r.report());
  assert.match(metrics, /mosaik_relay_packets_total\{[^}]*\} [1-9]/);
  assert.match(renderMetrics(n.report()), /mosaik_relay_reservations_held\{[^}]*\} 1/);
});
