import assert from "node:assert/strict";
import { configureLogging, networkId, SecretKey } from "@mosaik/transport";
import { dhtBootstrap, DhtNode, PUBLIC_ROUTERS } from "@mosaik/discovery/dht";
import { mdnsBootstrap } from "@mosaik/discovery/mdns";
import { Network, type NetworkOptions, renderMetrics } from "@mosaik/network";
import { eventually } from "@mosaik/transport/testing";

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

/** Starts a loopback node with `dht` and collects the `dht` warnings until it closes. */
async function dhtNode(
  dht: NetworkOptions["dht"],
  check: (n: Network, w: string[]) => Promise<void>,
) {
  const warnings: string[] = [];
  configureLogging({
    sink: (r) => r.subsystem === "dht" && r.level === "warn" && warnings.push(r.message),
  });
  try {
    await using node = await Network.create(`dht-${crypto.randomUUID()}`, {
      listen: "127.0.0.1:0",
      mdns: false,
      dht,
    });
    await check(node, warnings);
  } finally {
    configureLogging({ sink: undefined });
  }
}

const dhtStatus = (n: Network) => n.discovery.sources().find((s) => s.name === "dht");

Deno.test("dht: routers that never answer are said once, in discovery's sources and in /metrics", async () => {
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const router = `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
    await dhtNode({ bootstrap: [router] }, async (node, warnings) => {
      assert.equal(dhtStatus(node)?.state, "starting");
      await eventually(() => dhtStatus(node)?.state === "unreachable", { timeout: 15_000 });
      assert.match(dhtStatus(node)!.reason!, new RegExp(`no router answered \\(${router}\\)`));
      assert.equal(warnings.length, 1, warnings.join("\n"));
      const metrics = renderMetrics(node.report());
      assert.match(
        metrics,
        /mosaik_discovery_source_up\{[^}]*source="dht",state="unreachable"\} 0/,
      );
    });
  } finally {
    silent.close();
  }
});

Deno.test({
  name: "dht: a node left with the default public routers but no permission to reach them says so",
  ignore: !publicDenied,
}, async () => {
  await dhtNode(true, async (node, warnings) => {
    await eventually(() => dhtStatus(node)?.state === "unreachable", { timeout: 15_000 });
    assert.match(warnings[0], /cannot send to the routers .* \(permission denied or no route\)/);
  });
});
