import assert from "node:assert/strict";
import { networkId, SecretKey, tag } from "@mosaik/transport";
import { Catalog, type CatalogEvent } from "./catalog.ts";
import { signDeparture } from "./departure.ts";
import { type PeerEntry, signEntry } from "./entry.ts";

const net = networkId("catalog-test");
const me = SecretKey.generate();
const peer = SecretKey.generate();
let clock = 1_000_000;

function entryOf(key: SecretKey, counter: number, extra: Partial<PeerEntry> = {}): PeerEntry {
  return {
    network: net,
    peerId: key.peerId,
    version: { start: 1, counter },
    addresses: ["127.0.0.1:1"],
    tags: [],
    streams: [],
    groups: [],
    tickets: [],
    ...extra,
  };
}

function setup() {
  clock = 1_000_000;
  const c = new Catalog(net, me.peerId, { purgeAfter: 1000, maxDrift: 500, now: () => clock });
  const events: CatalogEvent[] = [];
  c.subscribe((e) => events.push(e));
  return { c, events };
}

Deno.test("catalog: newer wins, older and equal are not stored", () => {
  const { c, events } = setup();
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock))), "discovered");
  assert.equal(
    c.upsert(signEntry(peer, entryOf(peer, clock + 1, { tags: [tag("x")] }))),
    "updated",
  );
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock))), "older-version");
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock + 1))), "unchanged");
  assert.deepEqual(events.map((e) => e.type), ["discovered", "updated"]);
  assert.equal(c.withTag(tag("x")).length, 1);
  assert.equal(c.withTag(tag("y")).length, 0);
  assert.equal(c.size, 1);
});

Deno.test("catalog: other network, self, expired and future entries are refused", () => {
  const { c } = setup();
  assert.equal(
    c.upsert(signEntry(peer, { ...entryOf(peer, clock), network: networkId("other") })),
    "wrong-network",
  );
  assert.equal(c.upsert(signEntry(me, entryOf(me, clock))), "unchanged");
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock - 1000))), "expired");
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock + 501))), "future-version");
  assert.equal(c.size, 0);
});

Deno.test("catalog: entries expire and purge emits expired", () => {
  const { c, events } = setup();
  c.upsert(signEntry(peer, entryOf(peer, clock)));
  assert.equal(c.nextExpiry(), clock + 1000);
  clock += 999;
  assert.equal(c.size, 1);
  clock += 1;
  assert.equal(c.size, 0);
  assert.equal(c.get(peer.peerId), undefined);
  assert.equal(c.purge(), 1);
  assert.deepEqual(events.map((e) => e.type), ["discovered", "expired"]);
  // A refreshed entry is new again.
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock))), "discovered");
});

Deno.test("catalog: departures remove and block replays of older versions", () => {
  const { c, events } = setup();
  c.upsert(signEntry(peer, entryOf(peer, clock)));
  // A departure older than the known entry is ignored.
  assert.equal(
    c.depart(signDeparture(peer, net, { start: 1, counter: clock - 1 }, clock)),
    "older-version",
  );
  assert.equal(c.depart(signDeparture(peer, net, { start: 1, counter: clock }, clock)), "updated");
  assert.equal(c.size, 0);
  assert.equal(c.upsert(signEntry(peer, entryOf(peer, clock))), "older-version");
  // A restart (newer version) comes back.
  assert.equal(c.upsert(signEntry(peer, { ...entryOf(peer, clock + 1) })), "discovered");
  assert.deepEqual(events.map((e) => e.type), ["discovered", "departed", "discovered"]);
});

Deno.test("catalog: a throwing subscriber does not break others", () => {
  const { c, events } = setup();
  c.subscribe(() => {
    throw new Error("boom");
  });
  const origError = console.error;
  console.error = () => {};
  try {
    c.upsert(signEntry(peer, entryOf(peer, clock)));
  } finally {
    console.error = origError;
  }
  assert.equal(events.length, 1);
});

Deno.test("catalog: when full, never-useful peers go first, then the least recently useful; kept ones never", () => {
  clock = 1_000_000;
  const kept = SecretKey.generate();
  const c = new Catalog(net, me.peerId, {
    purgeAfter: 1000,
    maxDrift: 500,
    maxPeers: 4,
    keep: (p) => p === kept.peerId,
    now: () => clock,
  });
  const evicted: string[] = [];
  c.subscribe((e) => e.type === "evicted" && evicted.push(e.entry.peerId));
  const [useful, older, ...cold] = Array.from({ length: 8 }, () => SecretKey.generate());
  for (const k of [kept, useful, older]) c.upsert(signEntry(k, entryOf(k, clock)));
  c.touch(older.peerId);
  c.touch(useful.peerId); // most recently useful
  for (const k of cold) assert.equal(c.upsert(signEntry(k, entryOf(k, clock))), "discovered");
  assert.equal(c.size, 4);
  // Each newcomer evicted the previous never-useful one; useful and kept peers stayed.
  assert.deepEqual(evicted, cold.slice(0, -1).map((k) => k.peerId));
  for (const k of [kept, useful, older]) assert.ok(c.get(k.peerId));
  // Once no never-useful peer is left, the least recently useful one goes.
  c.touch(cold.at(-1)!.peerId);
  const late = SecretKey.generate();
  c.upsert(signEntry(late, entryOf(late, clock)));
  assert.equal(evicted.at(-1), older.peerId);
  assert.ok(c.get(useful.peerId) && c.get(kept.peerId));
});

Deno.test("catalog: a newcomer is refused when every held peer is kept", () => {
  clock = 1_000_000;
  const c = new Catalog(net, me.peerId, {
    purgeAfter: 1000,
    maxDrift: 500,
    maxPeers: 2,
    keep: () => true,
    now: () => clock,
  });
  const [a, b, x] = [1, 2, 3].map(() => SecretKey.generate());
  c.upsert(signEntry(a, entryOf(a, clock)));
  c.upsert(signEntry(b, entryOf(b, clock)));
  assert.equal(c.upsert(signEntry(x, entryOf(x, clock))), "catalog-full");
  assert.equal(c.size, 2);
  // Updates of held peers still fit.
  assert.equal(c.upsert(signEntry(a, entryOf(a, clock + 1))), "updated");
});

Deno.test("catalog: a full catalog takes maxChurn newcomers a second, refused ones before verifying; kept ones always", () => {
  clock = 1_000_000;
  const kept = SecretKey.generate();
  const c = new Catalog(net, me.peerId, {
    purgeAfter: 10_000,
    maxDrift: 500,
    maxPeers: 2,
    maxChurn: 3,
    keep: (p) => p === kept.peerId,
    now: () => clock,
  });
  const flood = Array.from({ length: 10 }, () => SecretKey.generate());
  const offer = (k: SecretKey) => {
    const signed = signEntry(k, entryOf(k, clock));
    return c.assess(signed.entry) ?? c.upsert(signed);
  };
  // Filling the empty slots costs no churn.
  assert.deepEqual(flood.slice(0, 2).map(offer), ["discovered", "discovered"]);
  assert.deepEqual(flood.slice(2, 7).map(offer), [
    "discovered",
    "discovered",
    "discovered",
    "catalog-full",
    "catalog-full",
  ]);
  assert.equal(offer(kept), "discovered"); // a neighbour is never refused for churn
  clock += 500; // half a second: 1.5 more
  assert.deepEqual(flood.slice(7, 10).map(offer), ["discovered", "catalog-full", "catalog-full"]);
  assert.equal(c.size, 2);
  assert.ok(c.get(kept.peerId));
  // Updates of held peers are not newcomers.
  clock += 1;
  assert.equal(offer(flood[7]), "updated");
});

Deno.test("catalog: openings are free slots, then what is left of the second's churn", () => {
  clock = 1_000_000;
  const c = new Catalog(net, me.peerId, {
    purgeAfter: 10_000,
    maxDrift: 500,
    maxPeers: 3,
    maxChurn: 2,
    now: () => clock,
  });
  assert.equal(c.openings(), 3 + 2);
  const keys = [1, 2, 3, 4].map(() => SecretKey.generate());
  for (const k of keys) c.upsert(signEntry(k, entryOf(k, clock)));
  assert.equal(c.size, 3);
  assert.equal(c.openings(), 1); // full: one newcomer came in by churn
  clock += 500;
  assert.equal(c.openings(), 2);
});
