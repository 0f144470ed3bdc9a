import assert from "node:assert/strict";
import { Endpoint, networkId, SecretKey } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Discovery, regionTag, zoneTag } from "@mosaik/discovery";

Deno.test("discovery: two nodes through one bootstrap address", async () => {
  const net = networkId(crypto.randomUUID());
  const ea = await Endpoint.create({ networkId: net, secretKey: SecretKey.generate() });
  const eb = await Endpoint.create({ networkId: net });
  const a = await Discovery.create(ea);
  const b = await Discovery.create(eb, { bootstrap: [ea.address] });
  await b.when.peers({ minimum: 1 });
  await a.when.peers({ minimum: 1 });
  assert.equal(b.catalog.get(ea.peerId)?.addresses[0], ea.hostPort);
  assert.equal(a.catalog.get(eb.peerId)?.peerId, eb.peerId);
  await eventually(() => a.neighbors().length === 1 && b.neighbors().length === 1);
  const rtt = await b.ping(ea.peerId);
  assert.ok(rtt >= 0 && b.rtt(ea.peerId) !== undefined);
  const events: string[] = [];
  a.catalog.subscribe((e) => events.push(`${e.type}:${e.entry.peerId}`));
  await b.close();
  await eventually(() => a.catalog.size === 0, { message: "departure reached a" });
  assert.deepEqual(events, [`departed:${eb.peerId}`]);
  await eb.close();
  await a.close();
  await ea.close();
});

Deno.test("discovery: neighbours' RTTs are probed periodically and move the coordinates", async () => {
  const net = networkId(crypto.randomUUID());
  const ea = await Endpoint.create({ networkId: net });
  const eb = await Endpoint.create({ networkId: net });
  const opts = { rttProbeInterval: 100, announceInterval: 200 };
  const a = await Discovery.create(ea, { ...opts, region: "eu-west-1", zone: "eu-west-1a" });
  const b = await Discovery.create(eb, { ...opts, bootstrap: [ea.address] });
  try {
    await eventually(() => a.rtt(eb.peerId) !== undefined && b.rtt(ea.peerId) !== undefined);
    const rtt = a.rtt(eb.peerId)!;
    assert.equal(rtt.source, "measured");
    assert.ok(rtt.ms > 0 && rtt.ms < 1000, `rtt ${rtt.ms}`);
    assert.ok((a.stats.received.ping ?? 0) + (a.stats.received.pong ?? 0) > 0);
    // One sample may leave the error at its cap when the peer's coordinate
    // already moved far (a peer that probes too); more samples lower it.
    await eventually(() => a.coordinate.error < 1.5, {
      message: "samples lowered the error of a fresh coordinate",
    });
    // the refreshed entry carries the coordinate and the placement (also as tags)
    await eventually(() => (b.catalog.get(ea.peerId)?.coordinate?.error ?? 2) < 1.5);
    const entry = b.catalog.get(ea.peerId)!;
    assert.deepEqual(entry.placement, { region: "eu-west-1", zone: "eu-west-1a" });
    assert.ok(
      entry.tags.includes(regionTag("eu-west-1")) && entry.tags.includes(zoneTag("eu-west-1a")),
    );
    await b.when.peers({ minimum: 1, tags: [regionTag("eu-west-1")] });
  } finally {
    await b.close();
    await a.close();
    await eb.close();
    await ea.close();
  }
});

Deno.test("discovery: served pings and syncs end their channels, so stream credit and channel slots come back", async () => {
  const net = networkId(crypto.randomUUID());
  const ea = await Endpoint.create({ networkId: net, limits: { maxStreamsPerConnection: 16 } });
  const eb = await Endpoint.create({ networkId: net });
  const a = await Discovery.create(ea);
  const b = await Discovery.create(eb, { bootstrap: [ea.address] });
  try {
    await b.when.peers({ minimum: 1 });
    await eventually(() => a.neighbors().length === 1 && b.neighbors().length === 1);
    const settled = () => ea.resources().incomingChannels;
    await eventually(() => settled() <= 2); // b's gossip link, perhaps a ping in flight
    const base = settled();
    // more than the stream credit a grants b: each must give its stream back
    for (let i = 0; i < 40; i++) {
      await b.ping(ea.peerId);
      await b.syncWith(ea.peerId);
    }
    await eventually(() => settled() <= base, {
      message: `a still holds ${settled()} channels b opened (was ${base})`,
    });
  } finally {
    await b.close();
    await a.close();
    await eb.close();
    await ea.close();
  }
});
