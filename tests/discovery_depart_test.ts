// Departures and a crashed node: stale entries expire, graceful departures reach everyone.
import assert from "node:assert/strict";
import type { CatalogEvent } from "@mosaik/discovery";
import { eventually, timeFactor } from "@mosaik/transport/testing";

const tf = timeFactor();
import { closeAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";

function record(node: TestNode): CatalogEvent[] {
  const events: CatalogEvent[] = [];
  node.discovery.catalog.subscribe((e) => events.push(e));
  return events;
}

Deno.test("discovery: stale peers are purged and come back on their next announce", async () => {
  const net = freshNetwork();
  // "quick" expires entries after 600 ms; "slow" re-announces only every 1.5 s.
  const quick = await startNode(net, {
    discovery: {
      purgeAfter: 600 * tf,
      announceInterval: 200 * tf,
      announceJitter: 0,
    },
  });
  const events = record(quick);
  const slow = await startNode(net, {
    discovery: {
      purgeAfter: 60_000,
      announceInterval: 1_500 * tf,
      announceJitter: 0,
      bootstrap: [quick.endpoint.address],
    },
  });
  const slowId = slow.endpoint.peerId;
  try {
    await eventually(() => events.length >= 1);
    assert.equal(events[0].type, "discovered");
    assert.equal(events[0].entry.peerId, slowId);
    await eventually(() => slow.discovery.catalog.size === 1);
    // Hidden as soon as stale, then removed with an "expired" event.
    await eventually(() => quick.discovery.catalog.size === 0, { message: "slow expired" });
    await eventually(() => events.length >= 2);
    assert.equal(events[1].type, "expired");
    assert.equal(slow.discovery.catalog.size, 1, "slow still holds quick");
    // slow's periodic announce bumps its version: quick discovers it anew.
    await eventually(() => events.length >= 3, { message: "rediscovered" });
    assert.equal(events[2].type, "discovered");
    assert.deepEqual(events[2].entry, slow.discovery.local.entry);
    assert.equal(quick.discovery.catalog.size, 1);
  } finally {
    await closeAll([quick, slow]);
  }
});

Deno.test("discovery: a graceful departure is the next event on every other node", async () => {
  const net = freshNetwork();
  const n0 = await startNode(net);
  const n1 = await startNode(net, { discovery: { bootstrap: [n0.endpoint.address] } });
  const n2 = await startNode(net, { discovery: { bootstrap: [n1.endpoint.address] } });
  const nodes = [n0, n1, n2];
  const events = nodes.map(record);
  try {
    await eventually(() => nodes.every((n) => n.discovery.catalog.size === 2));
    for (const [i, ev] of events.entries()) {
      const others = nodes.filter((_, j) => j !== i).map((n) => n.endpoint.peerId).sort();
      assert.deepEqual(ev.map((e) => e.type), ["discovered", "discovered"]);
      assert.deepEqual(ev.map((e) => e.entry.peerId).sort(), others);
    }
    await n1.close();
    for (const i of [0, 2]) {
      await eventually(() => events[i].length >= 3, { timeout: 5_000 });
      assert.equal(events[i][2].type, "departed");
      assert.equal(events[i][2].entry.peerId, n1.endpoint.peerId);
      assert.equal(nodes[i].discovery.catalog.size, 1);
    }
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("discovery: a crashed node (no departure) expires from every catalog", async () => {
  const net = freshNetwork();
  const opts = { purgeAfter: 800 * tf, announceInterval: 200 * tf, announceJitter: 0.2 };
  const n0 = await startNode(net, { discovery: opts });
  const n1 = await startNode(net, { discovery: { ...opts, bootstrap: [n0.endpoint.address] } });
  const n2 = await startNode(net, { discovery: { ...opts, bootstrap: [n1.endpoint.address] } });
  const events = [n0, n1].map(record);
  try {
    await eventually(() => [n0, n1, n2].every((n) => n.discovery.catalog.size === 2));
    // Crash: the endpoint vanishes, discovery never sends a departure.
    await n2.endpoint.close();
    for (const [i, n] of [n0, n1].entries()) {
      const last = () => events[i].filter((e) => e.entry.peerId === n2.endpoint.peerId).at(-1);
      await eventually(() => last()?.type === "expired", { timeout: 5_000 });
      assert.equal(n.discovery.catalog.get(n2.endpoint.peerId), undefined);
      assert.ok(!events[i].some((e) => e.type === "departed"));
    }
    // Survivors keep each other (their re-announces refresh the entries).
    assert.ok(n0.discovery.catalog.get(n1.endpoint.peerId));
    assert.ok(n1.discovery.catalog.get(n0.endpoint.peerId));
    assert.ok(!n0.discovery.neighbors().includes(n2.endpoint.peerId));
  } finally {
    await closeAll([n0, n1, n2]);
  }
});
