// An unbounded catalog (issue 11, defect 3): a peer that syncs thousands of
// valid self-signed entries of made-up peers fills the catalog only to
// maxPeers, evicting never-useful peers first (neighbours stay) at most
// maxCatalogChurn a second and refusing the rest unverified, and catalog
// events do not make groups rescan the catalog per insertion.
import assert from "node:assert/strict";
import { Endpoint, type GroupId } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Discovery } from "@mosaik/discovery";
import { type GroupPeerEntry, Groups } from "@mosaik/groups";
import { Counter } from "@mosaik/groups/testing";
import { closeAll, freshNetwork, startNode } from "./_harness.ts";
import { gossipFrame, joinAsNeighbour, madeUpPeers, syncEntries } from "./discovery_attacker.ts";

Deno.test("discovery: a flood of 1,200 valid made-up peers stays within maxPeers and costs groups no rescans", async () => {
  const net = freshNetwork();
  const maxPeers = 300;
  await using endpoint = await Endpoint.create({ networkId: net });
  await using discovery = await Discovery.create(endpoint, { maxPeers, maxSyncRate: 64 << 20 });
  // A group on the victim, with a catalog that counts its scans.
  let scans = 0;
  const catalog = {
    withGroup(id: GroupId): readonly GroupPeerEntry[] {
      scans++;
      return discovery.catalog.withGroup(id);
    },
    get: (peer: GroupPeerEntry["peerId"]) => discovery.catalog.get(peer),
    subscribe: discovery.catalog.subscribe.bind(discovery.catalog),
  };
  const groups = new Groups(endpoint, { catalog, local: discovery.local });
  const group = groups.join({
    key: "flood",
    stateMachine: new Counter(),
    config: { bootstrapExpect: 1 },
  });
  const honest = await startNode(net, { discovery: { maxPeers } });
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    honest.discovery.addPeer(endpoint.address);
    await eventually(() => discovery.neighbors().includes(honest.endpoint.peerId));
    const flood = madeUpPeers(net, 1_200);
    const before = scans;
    const started = performance.now();
    for (let i = 0; i < flood.length; i += 250) {
      assert.equal(await syncEntries(attacker, endpoint, flood.slice(i, i + 250)), "done");
    }
    const s = discovery.stats;
    await eventually(() => s.catalogEvicted + s.catalogFull >= flood.length - maxPeers);
    const elapsed = performance.now() - started;
    // A full catalog took at most maxCatalogChurn (100) newcomers a second.
    assert.ok(s.catalogEvicted <= 100 * (1 + elapsed / 1000), `${s.catalogEvicted} evicted`);
    assert.ok(discovery.catalog.size <= maxPeers);
    assert.ok(discovery.catalog.bytes < maxPeers * 1024);
    // The neighbour was never evicted; the flood reaches it only up to its own bound.
    assert.ok(discovery.catalog.get(honest.endpoint.peerId));
    await honest.discovery.syncWith(endpoint.address);
    assert.ok(honest.discovery.catalog.size <= maxPeers);
    assert.ok(honest.discovery.catalog.get(endpoint.peerId));
    // Groups dial members on catalog changes that concern the group, not on
    // every insertion: its scans are the 250 ms dial round's, not 1,200.
    const rounds = Math.ceil(elapsed / 250) + 2;
    assert.ok(scans - before <= rounds, `${scans - before} scans in ${Math.round(elapsed)} ms`);
    assert.equal(discovery.stats.bans, 0);
  } finally {
    await group.close();
    await groups.close();
    await discovery.close();
    await closeAll([honest]);
  }
});

Deno.test("discovery: one peer's syncs cost at most maxVerifyRate signatures a second, both ways; honest catch-up completes", async () => {
  const net = freshNetwork();
  const opts = { maxVerifyRate: 200, maxSyncRate: 64 << 20 };
  const victim = await startNode(net, { discovery: opts });
  const honest = await startNode(net, { discovery: { maxSyncRate: 64 << 20 } });
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const flood = madeUpPeers(net, 1_000);
    // Pushed at the victim: a second's worth is verified, the rest left.
    const started = performance.now();
    assert.equal(await syncEntries(attacker, victim.endpoint, flood), "done");
    const s = victim.discovery.stats;
    const allowed = 200 + 200 * (performance.now() - started) / 1000;
    assert.ok(victim.discovery.catalog.size <= allowed, `${victim.discovery.catalog.size} peers`);
    assert.equal(s.entriesDeferred, 1_000 - victim.discovery.catalog.size);
    // Replies to our own syncs are bounded the same way, and syncs again
    // bring the rest: a node catching up from an honest peer gets there.
    assert.equal(await syncEntries(attacker, honest.endpoint, flood), "done");
    assert.equal(honest.discovery.catalog.size, 1_000);
    await eventually(async () => {
      await victim.discovery.syncWith(honest.endpoint.address);
      return victim.discovery.catalog.size === 1_001;
    });
    assert.ok(s.entriesDeferred > 1_000 - allowed);
    assert.equal(s.bans, 0);
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: a neighbour's gossiped entries cost at most maxVerifyRate signatures a second", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { maxVerifyRate: 200 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    honest.discovery.addPeer(victim.endpoint.address);
    const flood = madeUpPeers(net, 1_000);
    const ch = await joinAsNeighbour(attacker, victim);
    const started = performance.now();
    for (const entry of flood) await ch.sendBytes(gossipFrame([0, entry]));
    const s = victim.discovery.stats;
    await eventually(() => victim.discovery.catalog.size + s.entriesDeferred >= 1_000);
    const allowed = 200 + 200 * (performance.now() - started) / 1000;
    // The victim holds the honest node plus at most its budget of made-up peers.
    assert.ok(victim.discovery.catalog.size <= allowed + 1, `${victim.discovery.catalog.size}`);
    assert.ok(s.entriesDeferred >= 1_000 - allowed);
    assert.equal(s.bans, 0);
  } finally {
    await closeAll([victim, honest]);
  }
});
