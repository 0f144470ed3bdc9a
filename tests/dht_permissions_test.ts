import assert from "node:assert/strict";
import { configureLogging, networkId, SecretKey } from "@mosaik/transport";
import { dhtBootstrap, DhtNode, PUBLIC_ROUTERS } from "@mosaik/discovery/dht";
import { mdnsBootstrap } from "@mosaik/discovery/mdns";

const denied = (host: string) =>
  Deno.permissions.querySync({ name: "net", host }).state !== "granted";
// Only meaningful (and only safe) when the public routers are denied, as in `deno task test`.
const publicDenied = PUBLIC_ROUTERS.every(denied);

Deno.test({
  name:
    "dht permissions: with --allow-net limited to loopback the public routers are never reached",
  ignore: !publicDenied,
}, async () => {
  const node = await DhtNode.create({ hostname: "127.0.0.1" }); // default bootstrap: the public routers
  try {
    assert.equal(await node.bootstrap(), 0);
    assert.ok(
      node.stats.sendErrors >= PUBLIC_ROUTERS.length,
      `send errors ${node.stats.sendErrors}`,
    );
    assert.equal(node.stats.received, 0);
  } finally {
    await node.close();
  }
});

Deno.test({
  name: "dht and mdns permissions: a denied bind disables the source with a warning, no crash",
  ignore: !denied("0.0.0.0:5353") || !denied("0.0.0.0"),
}, async () => {
  const warnings: string[] = [];
  configureLogging({
    sink: (r) => r.level === "warn" && warnings.push(`${r.subsystem}: ${r.message}`),
  });
  const abort = new AbortController();
  const ctx = {
    networkId: networkId("perm"),
    secretKey: SecretKey.generate(),
    localAddresses: () => ["0.0.0.0:4433"],
    peerCount: () => 0,
    addPeer: () => {},
    signal: abort.signal,
  };
  try {
    const dht = dhtBootstrap({ bootstrap: ["127.0.0.1:9"] });
    await dht.start(ctx); // binds 0.0.0.0: denied
    assert.equal(dht.node, undefined);
    await dht.close();
    const mdns = mdnsBootstrap();
    await mdns.start(ctx);
    await mdns.close();
    assert.ok(warnings.some((w) => w.startsWith("dht: disabled")), warnings.join("\n"));
    assert.ok(warnings.some((w) => w.startsWith("mdns: disabled")), warnings.join("\n"));
  } finally {
    configureLogging({ sink: undefined });
    abort.abort();
  }
});
