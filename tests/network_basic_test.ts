import assert from "node:assert/strict";
import { networkId, SecretKey, tag } from "@mosaik/transport";
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
