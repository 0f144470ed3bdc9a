// Catalog behaviour between nodes on loopback: what one node learns of
// another through sync and gossip.
import assert from "node:assert/strict";
import { ConnectError, tag } from "@mosaik/transport";
import { closeAll, discoverAll, freshNetwork, startNode } from "./_harness.ts";

Deno.test("discovery: manual sync trigger — both sides merged when syncWith resolves", async () => {
  const net = freshNetwork();
  const n0 = await startNode(net, { discovery: { tags: [tag("tag1")] } });
  n0.discovery.local.addTags(tag("tag2"), tag("tag3"));
  const n1 = await startNode(net);
  try {
    assert.equal(n0.discovery.catalog.size, 0);
    assert.equal(n1.discovery.catalog.size, 0);
    await n1.discovery.syncWith(n0.endpoint.address);
    // The acceptor merges before it acknowledges, so no waiting is needed here.
    assert.equal(n0.discovery.catalog.size, 1);
    assert.equal(n1.discovery.catalog.size, 1);
    assert.deepEqual(
      n1.discovery.catalog.get(n0.endpoint.peerId),
      n0.discovery.local.entry,
      "the catalog holds exactly the entry n0 signed",
    );
    assert.equal(n1.discovery.catalog.withTag(tag("tag2")).length, 1);
    // Syncing again by id (now known) works and changes nothing.
    await n1.discovery.syncWith(n0.endpoint.peerId);
    assert.equal(n1.discovery.catalog.size, 1);
  } finally {
    await closeAll([n0, n1]);
  }
});

Deno.test("discovery: different networks are isolated", async () => {
  const netA = freshNetwork();
  const netB = freshNetwork();
  const a = await Promise.all([startNode(netA), startNode(netA)]);
  const b = await Promise.all([startNode(netB), startNode(netB), startNode(netB)]);
  const all = [...a, ...b];
  try {
    const results = await discoverAll(all, { allowFailures: true });
    // Same-network syncs succeed; cross-network ones are refused by the handshake.
    let i = 0;
    for (const x of all) {
      for (const y of all) {
        if (x === y) continue;
        const r = results[i++];
        const same = x.endpoint.networkId === y.endpoint.networkId;
        assert.equal(r.status, same ? "fulfilled" : "rejected");
        if (r.status === "rejected") assert.ok(r.reason instanceof ConnectError);
      }
    }
    for (const n of a) assert.equal(n.discovery.catalog.size, 1);
    for (const n of b) assert.equal(n.discovery.catalog.size, 2);
    assert.ok(a[0].discovery.catalog.get(a[1].endpoint.peerId));
    assert.ok(b[0].discovery.catalog.get(b[2].endpoint.peerId));
    // A node of B bootstrapping from a node of A never enters A's catalog.
    const intruder = await startNode(netB, { discovery: { bootstrap: [a[0].endpoint.address] } });
    all.push(intruder);
    await assert.rejects(intruder.discovery.syncWith(a[0].endpoint.address), ConnectError);
    assert.equal(intruder.discovery.neighbors().length, 0);
    for (const n of a) {
      assert.equal(n.discovery.catalog.get(intruder.endpoint.peerId), undefined);
      assert.equal(n.discovery.catalog.size, 1);
    }
  } finally {
    await closeAll(all);
  }
});
