import assert from "node:assert/strict";
import { configureLogging, networkId, SecretKey, tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";

Deno.test("network: two nodes find each other; close removes the node everywhere", async () => {
  const name = crypto.randomUUID();
  await using a = await Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: false });
  const b = await Network.create(name, {
    listen: "127.0.0.1:0",
    mdns: false,
    dht: false,
    bootstrap: [a.local.address],
    tags: ["reader"],
    secretKey: "network-basic-test-b",
  });
  assert.equal(b.local.id, SecretKey.from("network-basic-test-b").peerId);
  assert.equal(a.networkId, networkId(name));
  assert.match(a.local.address, /^[a-z0-9]{52}@127\.0\.0\.1:\d+$/);
  assert.equal(a.local.address, a.endpoint.address);
  assert.deepEqual(a.local.addresses, [a.endpoint.hostPort]);
  await b.discovery.when.peers({ minimum: 1 });
  await a.discovery.when.peers({ minimum: 1, tags: [tag("reader")] });
  assert.deepEqual(a.discovery.catalog.get(b.local.id)?.tags, [tag("reader")]);
  await b.close();
  await b.close(); // idempotent
  await eventually(() => a.discovery.catalog.size === 0);
});

Deno.test("network: a node bootstrapped into another network says so on both sides and in /metrics", async () => {
  const warnings: string[] = [];
  configureLogging({ sink: (r) => r.level === "warn" && warnings.push(r.message) });
  try {
    const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;
    await using a = await Network.create(`a-${crypto.randomUUID()}`, local);
    await using b = await Network.create(`b-${crypto.randomUUID()}`, {
      ...local,
      bootstrap: [a.local.address],
    });
    await eventually(() => warnings.length === 2, { message: warnings.join("\n") });
    assert.ok(warnings.every((w) => w.includes("same NetworkId")), warnings.join("\n"));
    for (const n of [a, b]) {
      assert.ok(n.report().counters["mosaik_connections_refused_total{code=DifferentNetwork}"] > 0);
    }
  } finally {
    configureLogging({ sink: undefined });
  }
});
