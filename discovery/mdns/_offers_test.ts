import assert from "node:assert/strict";
import { SecretKey } from "@mosaik/transport";
import { Offers } from "./_offers.ts";

const peers = (n: number) => Array.from({ length: n }, () => SecretKey.generate().peerId);

Deno.test("mdns offers: 1000 spoofed PeerIds at one port get a burst, then the rate", () => {
  let now = 0;
  const offers = new Offers({ maxPeers: 256, rate: 2, burst: 16 }, () => now);
  const spoofed = peers(1000);
  const offered = () => spoofed.filter((p) => offers.offer(p, ["10.0.0.9:4433"]) === "offer");
  assert.equal(offered().length, 16);
  now += 10_000; // ten seconds of hearing them again: two per second
  assert.equal(offered().length, 16); // the bucket refilled to its burst, no more
  now += 1_000;
  assert.equal(offered().length, 2);
  assert.ok(offers.size <= 256);
});

Deno.test("mdns offers: the table is bounded; known peers are not offered again", () => {
  let now = 0;
  const offers = new Offers({ maxPeers: 8, rate: 1000, burst: 1000 }, () => now);
  const [honest, ...others] = peers(100);
  assert.equal(offers.offer(honest, ["10.0.0.1:1"]), "offer");
  assert.equal(offers.offer(honest, ["10.0.0.1:1"]), "known");
  assert.equal(offers.offer(honest, ["10.0.0.2:1"]), "offer"); // moved
  for (const p of others) offers.offer(p, ["10.0.0.9:1"]);
  assert.equal(offers.size, 8);
  now += 1;
  assert.equal(offers.offer(honest, ["10.0.0.2:1"]), "offer"); // forgotten, offered again
  offers.forget(honest);
  assert.equal(offers.offer(honest, ["10.0.0.2:1"]), "offer");
});
