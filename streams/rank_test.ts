import assert from "node:assert/strict";
import type { PeerId } from "@mosaik/transport";
import { inRegion, inZone, peerInfo, type StreamsPeerEntry } from "./peer.ts";
import { choose } from "./rank.ts";

const p = (id: string, rtt: number | undefined, placement?: StreamsPeerEntry["placement"]) =>
  peerInfo({ peerId: id as PeerId, addresses: [], tags: [], streams: [], placement }, rtt);
const none = new Set<PeerId>();
const ids = (...xs: string[]) => new Set(xs as PeerId[]);

Deno.test("rank: latency picks the fastest, unknown RTTs last", () => {
  const all = [p("slow", 50), p("unknown", undefined), p("fast", 1), p("mid", 10)];
  assert.deepEqual(choose(all, none, { prefer: "latency", limit: 2 }), ["fast", "mid"]);
  assert.deepEqual(choose(all, none, { prefer: "any", limit: 2 }), ["slow", "unknown"]);
  assert.deepEqual(choose(all, none, { prefer: "latency" }).length, 4);
});

Deno.test("rank: hysteresis keeps a producer in use against a near-equal one", () => {
  const all = [p("a", 20), p("b", 17)];
  assert.deepEqual(choose(all, ids("a"), { prefer: "latency", limit: 1 }), ["a"]);
  // 14 < 0.75·20 and 6 ms lower: clearly better
  assert.deepEqual(choose([p("a", 20), p("b", 14)], ids("a"), { prefer: "latency", limit: 1 }), [
    "b",
  ]);
  // tiny RTTs: the absolute margin keeps 0.2 vs 1 ms apart from flapping
  assert.deepEqual(choose([p("a", 1), p("b", 0.2)], ids("a"), { prefer: "latency", limit: 1 }), [
    "a",
  ]);
  // a producer in use that vanished from the eligible list is replaced
  assert.deepEqual(choose([p("b", 17)], ids("a"), { prefer: "latency", limit: 1 }), ["b"]);
});

Deno.test("rank: region prefers our region, then zone, then nearest location, then RTT", () => {
  const self = { region: "eu", zone: "eu-a", location: { lat: 48.8, lon: 2.3 } }; // Paris
  const all = [
    p("us", 1, { region: "us" }),
    p("eu-b-far", 5, { region: "eu", zone: "eu-b", location: { lat: 59.3, lon: 18.1 } }),
    p("eu-b-near", 9, { region: "eu", zone: "eu-b", location: { lat: 50.1, lon: 8.7 } }),
    p("eu-a", 30, { region: "eu", zone: "eu-a" }),
  ];
  assert.deepEqual(choose(all, none, { prefer: "region", limit: 4, self }), [
    "eu-a",
    "eu-b-near",
    "eu-b-far",
    "us",
  ]);
  // a region change is never held back by hysteresis
  assert.deepEqual(choose(all, ids("us"), { prefer: "region", limit: 1, self }), ["eu-a"]);
});

Deno.test("rank: a comparator decides alone", () => {
  const byName = (a: { peerId: string }, b: { peerId: string }) => a.peerId < b.peerId ? -1 : 1;
  const all = [p("c", 1), p("a", 3), p("b", 2)];
  assert.deepEqual(choose(all, none, { prefer: byName, limit: 2 }), ["a", "b"]);
  assert.deepEqual(choose(all, ids("c"), { prefer: byName, limit: 2 }), ["a", "b"]);
});

Deno.test("rank: inRegion and inZone read the declared placement", () => {
  const eu = p("eu", 1, { region: "eu-west-1", zone: "eu-west-1a" });
  assert.ok(inRegion("eu-west-1")(eu) && inRegion("us-east-1", "eu-west-1")(eu));
  assert.ok(!inRegion("us-east-1")(eu) && !inRegion("eu-west-1")(p("nowhere", 1)));
  assert.ok(inZone("eu-west-1a")(eu) && !inZone("eu-west-1b")(eu));
});
