import assert from "node:assert/strict";
import { fromHex, SecretKey, toHex } from "@mosaik/transport";
import {
  AddressVotes,
  crc32c,
  formatIP,
  isCompliant,
  isExempt,
  nodeIdFor,
  parseIP,
} from "./bep42.ts";
import { decodeNodes, decodePeer, encodeNodes, encodePeer } from "./krpc.ts";
import { immutableTarget, mutableTarget, signable, signItem, verifyItem } from "./bep44.ts";
import { encodeBencode } from "./bencode.ts";

const te = new TextEncoder();

Deno.test("BEP 42: test vectors", () => {
  const vectors: [string, number, string][] = [
    ["124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"],
    ["21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"],
    ["65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"],
    ["84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"],
    ["43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"],
  ];
  for (const [ip, rand, hex] of vectors) {
    const example = fromHex(hex);
    assert.ok(isCompliant(example, ip), ip);
    const ours = nodeIdFor(ip, rand);
    assert.equal(toHex(ours.subarray(0, 2)), hex.slice(0, 4), ip);
    assert.equal(ours[2] & 0xf8, example[2] & 0xf8, ip);
    assert.equal(ours[19], rand);
    assert.ok(isCompliant(ours, ip));
    const other = example.slice();
    other[0] ^= 0x80;
    assert.ok(!isCompliant(other, ip), "a flipped prefix bit is not compliant");
  }
  // CRC32C of the first row's masked input, as the reference gives it.
  assert.equal(crc32c(new Uint8Array([0x01 << 5 | (124 & 3), 31 & 15, 75 & 63, 21])), 0x5fbfbdb2);
  // Exempt ranges accept any id.
  assert.ok(isCompliant(new Uint8Array(20), "127.0.0.1"));
  assert.ok(isCompliant(new Uint8Array(20), "192.168.1.2"));
  assert.ok(!isCompliant(new Uint8Array(20), "8.8.8.8"));
});

const PK = fromHex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
const V = te.encode("Hello World!");

Deno.test("BEP 44: test vector 1 (mutable, no salt)", () => {
  const sig = fromHex(
    "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff" +
      "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01",
  );
  assert.equal(
    new TextDecoder().decode(signable(1, encodeBencode(V))),
    "3:seqi1e1:v12:Hello World!",
  );
  assert.equal(toHex(mutableTarget(PK)), "4a533d47ec9c7d95b1ad75f576cffc641853b750");
  assert.ok(verifyItem(PK, 1, encodeBencode(V), sig));
  assert.ok(!verifyItem(PK, 2, encodeBencode(V), sig), "another seq fails");
});

Deno.test("BEP 44: test vector 2 (mutable, salt foobar)", () => {
  const salt = te.encode("foobar");
  const sig = fromHex(
    "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d" +
      "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08",
  );
  assert.equal(
    new TextDecoder().decode(signable(1, encodeBencode(V), salt)),
    "4:salt6:foobar3:seqi1e1:v12:Hello World!",
  );
  assert.equal(toHex(mutableTarget(PK, salt)), "411eba73b6f087ca51a3795d9c8c938d365e32c1");
  assert.ok(verifyItem(PK, 1, encodeBencode(V), sig, salt));
  assert.ok(!verifyItem(PK, 1, encodeBencode(V), sig), "without the salt it fails");
});

Deno.test("BEP 44: test vector 3 (immutable)", () => {
  assert.equal(toHex(immutableTarget(V)), "e5f96f6f38320f0f33959cb4d3d656452117aadb");
});

Deno.test("BEP 44: own-key sign and verify round trip", () => {
  const key = SecretKey.generate();
  const item = signItem(key, { a: ["127.0.0.1:1"] }, 7, te.encode("s"));
  assert.ok(verifyItem(item.k, 7, encodeBencode(item.v), item.sig, item.salt));
  assert.ok(!verifyItem(item.k, 7, encodeBencode(item.v), item.sig));
});

Deno.test("BEP 42: external address voting needs distinct voters and ignores exempt addresses", () => {
  const votes = new AddressVotes(3);
  assert.equal(votes.vote("127.0.0.1", "a"), undefined);
  assert.equal(votes.vote("203.0.113.7", "a"), undefined);
  assert.equal(votes.vote("203.0.113.7", "a"), undefined, "the same voter counts once");
  assert.equal(votes.vote("203.0.113.7", "b"), undefined);
  assert.equal(votes.vote("198.51.100.1", "c"), undefined, "a minority claim");
  assert.equal(votes.vote("203.0.113.7", "c"), "203.0.113.7");
  assert.ok(isCompliant(nodeIdFor("203.0.113.7"), "203.0.113.7"));
});

Deno.test("BEP 42 and BEP 32: IPv6 addresses, ids and compact nodes", () => {
  assert.equal(formatIP(parseIP("2001:0db8:0000:0000:0001:0000:0000:0001")!), "2001:db8::1:0:0:1");
  assert.equal(formatIP(parseIP("::ffff:1.2.3.4")!), "::ffff:102:304");
  assert.equal(formatIP(parseIP("10.1.2.3")!), "10.1.2.3");
  for (const bad of ["1:::2", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1.2.3"]) {
    assert.equal(parseIP(bad), undefined);
  }
  assert.ok(
    isExempt("::1") && isExempt("fe80::1") && isExempt("fd00::1") && !isExempt("2001:db8::1"),
  );
  const id = nodeIdFor("2001:db8::1");
  assert.ok(isCompliant(id, "2001:db8::1"));
  const flipped = id.slice();
  flipped[0] ^= 0x80;
  assert.ok(!isCompliant(flipped, "2001:db8::1"));
  const nodes = [{ id, host: "2001:db8::1", port: 6881 }, { id, host: "10.0.0.1", port: 6881 }];
  const six = encodeNodes(nodes, true);
  assert.equal(six.length, 38, "only the IPv6 node");
  assert.deepEqual(decodeNodes(six, true), [nodes[0]]);
  assert.equal(encodeNodes(nodes).length, 26, "only the IPv4 node");
  assert.deepEqual(decodePeer(encodePeer("2001:db8::1", 80)!), { host: "2001:db8::1", port: 80 });
});
