// Bad input from a peer of the same network: forged signatures, entries of
// another network, replayed older versions and undecodable messages are
// dropped and counted, and the node keeps working.
import assert from "node:assert/strict";
import { Endpoint, networkId, peerIdToBytes, SecretKey, tag } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import {
  GOSSIP_PROTOCOL,
  type PeerEntry,
  PING_PROTOCOL,
  signEntry,
  SYNC_PROTOCOL,
} from "@mosaik/discovery";
import { closeAll, freshNetwork, startNode } from "./_harness.ts";
import { gossipFrame, gossipPayload, joinAsNeighbour, madeUpEntry } from "./discovery_attacker.ts";

Deno.test("discovery: an acceptor does not wait forever for a silent peer", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { requestTimeout: 200 } });
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const ch = await attacker.open(
      victim.endpoint.peerId,
      [victim.endpoint.hostPort],
      SYNC_PROTOCOL,
    );
    // Say nothing: the victim gives up and closes the channel (the opener
    // speaks first in sync, so it is still opening: its header timeout ends it).
    assert.equal(await ch.recv().catch(() => "closed"), "closed");
    assert.equal(victim.endpoint.resources().refused.headerTimeout, 1);
  } finally {
    await victim.close();
  }
});

Deno.test("discovery: forged, foreign, replayed and undecodable input is dropped and counted", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { banDuration: 0 } }); // bans are tested below
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const ch = await joinAsNeighbour(attacker, victim);
    const key = SecretKey.generate();
    const now = Date.now();
    const entry = (counter: number, extra: Partial<PeerEntry> = {}): PeerEntry =>
      madeUpEntry(key, net, { version: { start: now, counter }, ...extra });
    // 1. A valid entry is accepted (as a reference point).
    await ch.sendBytes(gossipFrame([0, signEntry(key, entry(now + 2)).bytes]));
    await eventually(() => victim.discovery.catalog.get(key.peerId));
    // 2. An older version of it replayed.
    await ch.sendBytes(gossipFrame([0, signEntry(key, entry(now + 1)).bytes]));
    // 3. A forged entry: another key's signature over a body naming `key`.
    const forger = SecretKey.generate();
    const forged = signEntry(forger, entry(now + 3, { peerId: forger.peerId, tags: [tag("x")] }))
      .bytes.slice();
    const fb = peerIdToBytes(forger.peerId);
    const kb = peerIdToBytes(key.peerId);
    for (let i = 0; i + 32 <= forged.length; i++) {
      if (fb.every((b, j) => forged[i + j] === b)) {
        forged.set(kb, i);
        break;
      }
    }
    await ch.sendBytes(gossipFrame([0, forged]));
    // 4. A correctly signed entry of another network.
    const foreign = SecretKey.generate();
    await ch.sendBytes(gossipFrame([
      0,
      signEntry(foreign, {
        ...entry(now + 2),
        peerId: foreign.peerId,
        network: networkId("someone-else"),
      }).bytes,
    ]));
    // 5. An undecodable payload inside a well-formed gossip message.
    await ch.sendBytes(gossipPayload(new Uint8Array([0xc1, 0xff])));
    // 6. An entry dated far in the future.
    const future = SecretKey.generate();
    await ch.sendBytes(gossipFrame([
      0,
      signEntry(future, {
        ...entry(now + 3_600_000),
        peerId: future.peerId,
      }).bytes,
    ]));
    const d = victim.discovery.stats.dropped;
    // A failure shows every counter, not just "timed out".
    const counted = (condition: () => boolean) =>
      eventually(condition).catch((error) => {
        throw new Error(`dropped counters: ${JSON.stringify(d)}`, { cause: error });
      });
    await counted(() =>
      d["older-version"] === 1 && d["bad-signature"] === 1 && d["wrong-network"] === 1 &&
      d["undecodable"] === 1 && d["future-version"] === 1
    );
    // 7. An undecodable gossip message closes that channel only.
    await ch.sendBytes(new Uint8Array([0xc1]));
    await counted(() => d["undecodable-message"] === 1);
    // (The victim's own gossip to the attacker, its neighbour, comes on that
    // channel too, before the close.)
    let answer: unknown;
    for (let i = 0; i < 1000 && Array.isArray(answer = await ch.recv().catch(() => "closed")); i++);
    assert.equal(answer, "closed");
    // 8. Garbage on the sync protocol.
    const sync = await attacker.open(
      victim.endpoint.peerId,
      [victim.endpoint.hostPort],
      SYNC_PROTOCOL,
    );
    await sync.send({ not: "a summary" });
    await counted(() => d["undecodable-message"] === 2);
    await sync.close();

    // The catalog holds only the valid entry, with its newest version.
    assert.equal(victim.discovery.catalog.size, 1);
    assert.equal(victim.discovery.catalog.get(key.peerId)?.version.counter, now + 2);
    assert.equal(victim.discovery.catalog.get(foreign.peerId), undefined);
    // And the node still works.
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.catalog.get(honest.endpoint.peerId));
    assert.ok(honest.discovery.catalog.get(key.peerId));
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: a peer that keeps sending garbage is banned for a while", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { banDuration: 60_000 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const d = victim.discovery.stats.dropped;
    for (let i = 1; i <= 3; i++) {
      const ch = await attacker.open(
        victim.endpoint.peerId,
        [victim.endpoint.hostPort],
        GOSSIP_PROTOCOL,
      );
      await ch.send(["not", "gossip"]);
      await eventually(() => d["undecodable-message"] === i);
    }
    assert.equal(d["banned-peer"], 1);
    // Now even well-formed requests are refused.
    const sync = await attacker.open(
      victim.endpoint.peerId,
      [victim.endpoint.hostPort],
      SYNC_PROTOCOL,
    );
    await sync.send([]);
    assert.equal(await sync.recv().catch(() => "refused"), "refused");
    assert.equal(d["from-banned-peer"], 1);
    // Honest peers are unaffected.
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.catalog.get(honest.endpoint.peerId));
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: random frames on every discovery protocol never hurt a live node", async () => {
  const net = freshNetwork();
  const victim = await startNode(net, { discovery: { banDuration: 0, requestTimeout: 200 } });
  const honest = await startNode(net);
  await using attacker = await Endpoint.create({ networkId: net });
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const frame = () => {
    const b = new Uint8Array(Math.floor(random() * 64));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256);
    // Half of them start like a message of some kind, to get past the first byte.
    if (b.length > 1 && random() < 0.5) b[0] = 0x90 + (b[1] % 5);
    return b;
  };
  try {
    for (const protocol of [GOSSIP_PROTOCOL, SYNC_PROTOCOL, PING_PROTOCOL]) {
      for (let i = 0; i < 60; i++) {
        const ch = await attacker.open(
          victim.endpoint.peerId,
          [victim.endpoint.hostPort],
          protocol,
        );
        for (let k = 0; k < 5; k++) await ch.sendBytes(frame()).catch(() => {});
        await ch.close();
      }
    }
    await eventually(() => (victim.discovery.stats.dropped["undecodable-message"] ?? 0) > 100);
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.ok(victim.discovery.catalog.get(honest.endpoint.peerId));
    assert.equal(await victim.discovery.ping(honest.endpoint.peerId) > 0, true);
  } finally {
    await closeAll([victim, honest]);
  }
});
