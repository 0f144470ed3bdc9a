// Catalog sync under attack (issue 11, defects 2 and 10): errors of the
// victim's own making never count against the peer that asked, a sync full
// of forged signatures costs a bounded number of checks before its sender is
// banned, and inbound bytes per peer are bounded (maxSyncRate, maxGossipRate).
import assert from "node:assert/strict";
import { encode, Endpoint, type NetworkId, SecretKey } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { signEntry, SYNC_PROTOCOL } from "@mosaik/discovery";
import { closeAll, freshNetwork, startNode } from "./_harness.ts";
import { forgedEntries, joinAsNeighbour, madeUpEntry, syncEntries } from "./discovery_attacker.ts";

/** A valid self-signed entry of about 250 KiB (four 62 KiB tickets). */
function bigEntry(net: NetworkId): Uint8Array {
  const key = SecretKey.generate();
  const tickets = [0, 1, 2, 3].map((i) => ({
    kind: `bulk-${i}`,
    data: crypto.getRandomValues(new Uint8Array(62 * 1024)),
  }));
  return signEntry(key, madeUpEntry(key, net, { tickets })).bytes;
}

Deno.test("discovery: 40 valid 250 KiB entries never get honest peers banned for our replies", async () => {
  const net = freshNetwork();
  // A generous sync rate: the attack is on the size of our replies, not on rates.
  const victim = await startNode(net, { discovery: { maxSyncRate: 64 << 20 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const big = Array.from({ length: 40 }, () => bigEntry(net));
    assert.ok(big.every((b) => b.length > 250 * 1000));
    for (let i = 0; i < big.length; i += 10) {
      assert.equal(await syncEntries(attacker, victim.endpoint, big.slice(i, i + 10)), "done");
    }
    await eventually(() => victim.discovery.catalog.size === 40);
    // Every reply the victim sends would be ~10 MB: it sends at most
    // maxSyncBytes a time, and the rest follows in later syncs.
    for (let i = 0; i < 20 && honest.discovery.catalog.size < 41; i++) {
      await honest.discovery.syncWith(victim.endpoint.address);
    }
    assert.equal(honest.discovery.catalog.size, 41);
    for (const n of [victim, honest]) {
      assert.equal(n.discovery.stats.bans, 0, JSON.stringify(n.discovery.stats.dropped));
      assert.equal(n.discovery.stats.syncFailures, 0);
    }
  } finally {
    await closeAll([victim, honest]);
  }
});

/** Opens a sync to `victim` and stalls it after the reply: it holds one of the victim's turns. */
async function stalledSync(from: Endpoint, victim: Endpoint) {
  const ch = await from.open(victim.peerId, [victim.hostPort], SYNC_PROTOCOL);
  await ch.send([]);
  await ch.recv();
  return ch;
}

Deno.test("discovery: syncs the victim's own timer ends are not the requester's offence", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { requestTimeout: 200 } });
  await using slow = await Endpoint.create({ networkId: net });
  try {
    for (let i = 1; i <= 4; i++) {
      const ch = await stalledSync(slow, victim.endpoint);
      // Too slow to send our entries: the victim's timer ends the sync.
      assert.equal(await ch.recv().catch(() => undefined), undefined);
      await eventually(() => victim.discovery.stats.dropped["request-timeout"] === i);
    }
    assert.equal(victim.discovery.stats.bans, 0);
    // Not banned: a sync in time completes.
    assert.equal(await syncEntries(slow, victim.endpoint, []), "done");
  } finally {
    await victim.close();
  }
});

Deno.test("discovery: syncs stalled in every turn of the victim hold it only until its timer", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { requestTimeout: 1000 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const stalled = [];
    for (let i = 0; i < 32; i++) stalled.push(await stalledSync(attacker, victim.endpoint));
    // Every turn is held: the honest sync is served once the victim's timer
    // ended the stalled ones, not before, and not turned away.
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.stats.dropped["request-timeout"] >= 1);
    await eventually(() => victim.discovery.stats.dropped["request-timeout"] === 32);
    for (const ch of stalled) assert.equal(await ch.recv().catch(() => undefined), undefined);
    assert.ok(honest.discovery.catalog.get(victim.endpoint.peerId));
    assert.equal(victim.discovery.stats.dropped["sync-busy"], undefined);
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: syncs beyond the victim's waiting room are turned away and counted", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { requestTimeout: 2000 } });
  const honest = await startNode(net);
  const attackers = await Promise.all([0, 1, 2].map(() => Endpoint.create({ networkId: net })));
  try {
    // 32 turns and 128 places to wait: 180 syncs at once leave some out
    await Promise.all(attackers.map(async (a) => {
      await Promise.all(Array.from({ length: 60 }, async () => {
        const ch = await a.open(victim.endpoint.peerId, [victim.endpoint.hostPort], SYNC_PROTOCOL);
        await ch.send([]);
      }));
    }));
    await eventually(() => (victim.discovery.stats.dropped["sync-busy"] ?? 0) >= 180 - 32 - 128);
    // the victim's timer ends those it took in (served or waiting); then it serves again
    await eventually(() => victim.discovery.stats.dropped["request-timeout"] === 32 + 128);
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(honest.discovery.catalog.get(victim.endpoint.peerId));
  } finally {
    await Promise.all(attackers.map((a) => a.close()));
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: a sync of 25,000 forged entries stops at the first offences", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { banDuration: 60_000 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  await using attacker2 = await Endpoint.create({ networkId: net });
  try {
    const key = SecretKey.generate();
    const forged = forgedEntries(signEntry(key, madeUpEntry(key, net)), 25_000);
    const s = victim.discovery.stats;
    // More entries than the catalog could hold: refused before any check.
    let started = performance.now();
    await syncEntries(attacker, victim.endpoint, forged);
    await eventually(() => s.dropped["undecodable-message"] === 1);
    const oversized = performance.now() - started;
    assert.equal(s.dropped["bad-signature"] ?? 0, 0);
    // Within the limit: the first batch of signatures fails and bans the sender.
    started = performance.now();
    await syncEntries(attacker2, victim.endpoint, forged.slice(0, 9_000));
    await eventually(() => s.bans === 1);
    const merged = performance.now() - started;
    assert.equal(s.dropped["bad-signature"], 3);
    assert.equal(victim.discovery.catalog.size, 0);
    assert.ok(oversized < 2_000 && merged < 2_000, `${oversized} ms, ${merged} ms`);
    // The victim still serves honest peers.
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.catalog.get(honest.endpoint.peerId));
  } finally {
    await closeAll([victim, honest]);
  }
});

/** A well-formed summary naming `n` made-up peers (no offence, just bytes). */
function bigSummary(n: number): unknown[] {
  return Array.from({ length: n }, () => [crypto.getRandomValues(new Uint8Array(32)), 1, 1]);
}

Deno.test("discovery: inbound sync and gossip bytes beyond the per-peer rate are refused, counted, not banned", async () => {
  const net = freshNetwork();
  const rate = 32 * 1024;
  const victim = await startNode(net, { discovery: { maxSyncRate: rate, maxGossipRate: rate } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const s = victim.discovery.stats;
    // Syncs asking with ~90 KB summaries: the first passes (a budget in
    // debt), the next ones are refused until the budget refills.
    for (let i = 0; i < 3; i++) {
      const ch = await attacker.open(
        victim.endpoint.peerId,
        [victim.endpoint.hostPort],
        SYNC_PROTOCOL,
      );
      await ch.send(bigSummary(2_000));
      await ch.recv().catch(() => undefined);
      await ch.close().catch(() => {});
    }
    await eventually(() => s.syncRateLimited >= 1);
    // Gossip: well-formed IHAVE notices, ~5 KB each.
    const gossip = await joinAsNeighbour(attacker, victim);
    const ihave = encode([7, Array.from({ length: 256 }, () => [randomId(), 0])]);
    for (let i = 0; i < 40; i++) await gossip.sendBytes(ihave);
    await eventually(() => s.gossipRateLimited >= 1);
    assert.equal(s.bans, 0);
    assert.equal(s.dropped["undecodable-message"] ?? 0, 0);
    // Honest peers are served meanwhile.
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.catalog.get(honest.endpoint.peerId));
  } finally {
    await closeAll([victim, honest]);
  }
});

function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}
