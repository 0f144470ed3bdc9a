// Bootstrap sources plug into discovery through BootstrapContext.
import assert from "node:assert/strict";
import type { BootstrapContext, BootstrapSource } from "@mosaik/discovery";
import { eventually } from "@mosaik/transport/testing";
import { closeAll, freshNetwork, startNode } from "./_harness.ts";

Deno.test("discovery: a bootstrap source's peers are joined; the source is stopped on close", async () => {
  const net = freshNetwork();
  const seed = await startNode(net);
  let ctx: BootstrapContext | undefined;
  let closed = false;
  const source: BootstrapSource = {
    name: "fixed",
    start(c) {
      ctx = c;
      c.addPeer("not-an-address"); // ignored, counted
      c.addPeer(seed.endpoint.address);
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  const node = await startNode(net, { discovery: { sources: [source] } });
  try {
    await node.discovery.when.peers({ minimum: 1 });
    assert.ok(ctx);
    assert.equal(ctx.networkId, net);
    assert.equal(ctx.secretKey.peerId, node.endpoint.peerId);
    assert.deepEqual(ctx.localAddresses(), [node.endpoint.hostPort]);
    await eventually(() => ctx!.peerCount() === 1);
    assert.equal(node.discovery.stats.dropped["bad-address"], 1);
    assert.equal(ctx.signal.aborted, false);
    await node.close();
    assert.ok(closed);
    assert.equal(ctx.signal.aborted, true);
  } finally {
    await closeAll([node, seed]);
  }
});

Deno.test("discovery: a failing source does not stop discovery", async () => {
  const net = freshNetwork();
  const seed = await startNode(net);
  const broken: BootstrapSource = {
    name: "broken",
    start: () => Promise.reject(new Error("no permission")),
    close: () => Promise.resolve(),
  };
  const errors: unknown[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a);
  const node = await startNode(net, {
    discovery: { sources: [broken], bootstrap: [seed.endpoint.address] },
  });
  try {
    await node.discovery.when.peers({ minimum: 1 });
    await eventually(() => errors.length === 1);
  } finally {
    console.error = orig;
    await closeAll([node, seed]);
  }
});
