// Gossip replay (issue 11, defect 7): one real announcement replayed under
// made-up Plumtree ids, or re-encoded so its bytes differ, must not make
// honest nodes forward it again. Ids name the signed content, and gossip from
// peers that are not neighbours is refused and counted.
import assert from "node:assert/strict";
import {
  delay,
  encode,
  Endpoint,
  type NetworkId,
  peerIdToBytes,
  SecretKey,
} from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { GOSSIP_PROTOCOL, type PeerEntry, signEntry, SYNC_PROTOCOL } from "@mosaik/discovery";
import { closeAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";
import { gossipFrame, gossipPayload, joinAsNeighbour } from "./discovery_attacker.ts";

function entryOf(key: SecretKey, net: NetworkId, address: string, counter: number): PeerEntry {
  return {
    network: net,
    peerId: key.peerId,
    version: { start: counter, counter },
    addresses: [address],
    tags: [],
    streams: [],
    groups: [],
    tickets: [],
  };
}

/** A victim with one honest gossip neighbour. */
async function victimAndNeighbour(): Promise<[NetworkId, TestNode, TestNode]> {
  const net = freshNetwork();
  const victim = await startNode(net);
  const honest = await startNode(net);
  honest.discovery.addPeer(victim.endpoint.address);
  await eventually(() => victim.discovery.neighbors().includes(honest.endpoint.peerId), {
    message: "neighbours",
  });
  await eventually(() => honest.discovery.catalog.get(victim.endpoint.peerId) !== undefined, {
    message: "honest knows the victim",
  });
  return [net, victim, honest];
}

/** A UDP port an attacker wants flooded, counting what arrives there. */
function udpTarget() {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = {
    address: `127.0.0.1:${(conn.addr as Deno.NetAddr).port}`,
    packets: 0,
    [Symbol.dispose]: () => conn.close(),
  };
  (async () => {
    for (;;) {
      await conn.receive();
      target.packets++;
    }
  })().catch(() => {/* closed */});
  return target;
}

/** Messages of a broadcast the victim sent (payloads and notices). */
const forwarded = (v: TestNode) =>
  (v.discovery.stats.sent.gossip ?? 0) + (v.discovery.stats.sent.ihave ?? 0);

/** `[0, entry]` in every MessagePack spelling of its array header, its 0 and its bin header. */
function reencodings(entry: Uint8Array): Uint8Array[] {
  const zero = [
    [0x00],
    [0xcc, 0],
    [0xcd, 0, 0],
    [0xce, 0, 0, 0, 0],
    [0xcf, 0, 0, 0, 0, 0, 0, 0, 0],
    [0xd0, 0],
    [0xd1, 0, 0],
    [0xd2, 0, 0, 0, 0],
    [0xd3, 0, 0, 0, 0, 0, 0, 0, 0],
    [0xca, 0, 0, 0, 0],
    [0xcb, 0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const n = entry.length;
  const bin = [
    [0xc5, n >> 8, n & 0xff],
    [0xc6, 0, 0, n >> 8, n & 0xff],
  ];
  const header = [[0x92], [0xdc, 0, 2], [0xdd, 0, 0, 0, 2]];
  const out: Uint8Array[] = [];
  for (const h of header) {
    for (const z of zero) {
      for (const b of bin) out.push(new Uint8Array([...h, ...z, ...b, ...entry]));
    }
  }
  return out;
}

Deno.test("discovery: 5,000 replays of one announcement under random ids from a non-neighbour reach nobody", async () => {
  const [net, victim, honest] = await victimAndNeighbour();
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const key = SecretKey.generate();
    const announcement = [0, signEntry(key, entryOf(key, net, "127.0.0.1:9", Date.now())).bytes];
    const before = forwarded(victim);
    // No JOIN: the attacker is not a neighbour of the victim.
    const ch = await attacker.open(
      victim.endpoint.peerId,
      [victim.endpoint.hostPort],
      GOSSIP_PROTOCOL,
    );
    for (let i = 0; i < 5_000; i++) {
      await ch.sendBytes(gossipFrame(announcement, crypto.getRandomValues(new Uint8Array(16))));
    }
    const s = victim.discovery.stats;
    await eventually(
      () => (s.dropped["gossip-not-neighbour"] ?? 0) + s.gossipRateLimited >= 5_000,
    ).catch((e) => {
      throw new Error(`victim: ${JSON.stringify(s)}`, { cause: e });
    });
    assert.ok(s.dropped["gossip-not-neighbour"] > 0);
    assert.equal(victim.discovery.catalog.get(key.peerId), undefined);
    assert.equal(honest.discovery.catalog.get(key.peerId), undefined);
    assert.equal(forwarded(victim), before);
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: a neighbour's re-encoded replays are one broadcast; made-up ids get it banned", async () => {
  const [net, victim, honest] = await victimAndNeighbour();
  await using attacker = await Endpoint.create({ networkId: net });
  try {
    const ch = await joinAsNeighbour(attacker, victim);
    const key = SecretKey.generate();
    const now = Date.now();
    const first = signEntry(key, entryOf(key, net, "127.0.0.1:9", now)).bytes;
    await ch.sendBytes(gossipFrame([0, first]));
    await eventually(() => honest.discovery.catalog.get(key.peerId) !== undefined);
    await eventually(() => forwarded(victim) > 0);
    const before = forwarded(victim);
    // 66 spellings of the same announcement, each under the id honest nodes
    // compute for it.
    for (const payload of reencodings(first)) await ch.sendBytes(gossipPayload(payload));
    // A newer entry after them tells when the victim has read them all.
    const next = signEntry(key, entryOf(key, net, "127.0.0.1:9", now + 1)).bytes;
    await ch.sendBytes(gossipFrame([0, next]));
    await eventually(() => honest.discovery.catalog.get(key.peerId)?.version.counter === now + 1);
    // The newer entry went out once; none of the copies did.
    await eventually(() => forwarded(victim) - before >= 1);
    const copies = forwarded(victim) - before;
    assert.equal(copies, 1, `the victim sent ${copies} messages for 67 announcements`);
    assert.equal(victim.discovery.stats.bans, 0);

    // Made-up ids for real content are forged on purpose: banned after 3.
    for (let i = 0; i < 3; i++) {
      await ch.sendBytes(gossipFrame([0, next], crypto.getRandomValues(new Uint8Array(16))));
    }
    await eventually(() => victim.discovery.stats.bans === 1);
    assert.equal(victim.discovery.stats.dropped["gossip-wrong-id"], 3);
    assert.equal(forwarded(victim) - before, 1);
    // Honest peers are not blamed.
    assert.ok(victim.discovery.neighbors().includes(honest.endpoint.peerId));
    await honest.discovery.syncWith(victim.endpoint.address);
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: notices naming made-up peers at someone's port make nobody dial it", async () => {
  const [net, victim, honest] = await victimAndNeighbour();
  await using attacker = await Endpoint.create({ networkId: net });
  using target = udpTarget();
  try {
    let asked = 0;
    attacker.handle(SYNC_PROTOCOL, async (sync) => {
      asked++;
      await sync.close();
    });
    const ch = await joinAsNeighbour(attacker, victim);
    const now = Date.now();
    for (let i = 0; i < 200; i++) {
      const id = peerIdToBytes(SecretKey.generate().peerId);
      await ch.sendBytes(gossipFrame([2, [id, [target.address]], now, now]));
    }
    // The victim asks the neighbour that sent them (one sync at a time), finds
    // no such entries and forwards none.
    await eventually(() => (victim.discovery.stats.dropped["notice-unfounded"] ?? 0) >= 200);
    await honest.discovery.syncWith(victim.endpoint.address);
    assert.equal(target.packets, 0);
    // 200 notices cost a couple of syncs with the attacker, not 200.
    assert.ok(asked <= 10, `${asked} syncs`);
    // None was forwarded: the honest neighbour never heard of them.
    assert.equal(honest.discovery.stats.dropped["notice-unfounded"], undefined);
  } finally {
    await closeAll([victim, honest]);
  }
});

Deno.test("discovery: forwardJoins naming made-up peers at someone's port are admitted at a bounded rate", async () => {
  const [net, victim, honest] = await victimAndNeighbour();
  await using attacker = await Endpoint.create({ networkId: net });
  using target = udpTarget();
  try {
    const ch = await joinAsNeighbour(attacker, victim);
    // FORWARDJOIN with ttl 0: "add this new peer to your active view".
    for (let i = 0; i < 200; i++) {
      const id = peerIdToBytes(SecretKey.generate().peerId);
      await ch.sendBytes(encode([1, [id, [target.address]], 0]));
    }
    // What the victim sends there over two seconds (a measurement window).
    await delay(2_000);
    // Before: every one was dialed at once (about 7 Initials each). Now a
    // burst of 8, then 1 a second: at most ~10 dials.
    assert.ok(target.packets <= 10 * 8, `${target.packets} packets`);
    // The honest neighbour is still served.
    await honest.discovery.syncWith(victim.endpoint.address);
  } finally {
    await closeAll([victim, honest]);
  }
});
