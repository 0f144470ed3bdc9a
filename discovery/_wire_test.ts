import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, DecodeError, encode, networkId, SecretKey } from "@mosaik/transport";
import { signEntry } from "./entry.ts";
import {
  decodeAnnouncement,
  decodeGossip,
  encodeAnnouncement,
  encodeGossip,
  entryPayloadId,
  type GossipMessage,
  payloadId,
} from "./_wire.ts";

const peer = { id: SecretKey.generate().peerId, addresses: ["127.0.0.1:1", "[::1]:2"] };
const id = "00112233445566778899aabbccddeeff";
const samples: GossipMessage[] = [
  { kind: "join", peer },
  { kind: "forwardJoin", peer, ttl: 6 },
  { kind: "neighbor", peer, high: true },
  { kind: "disconnect", alive: false },
  { kind: "shuffle", origin: peer, nodes: [peer, peer], ttl: 3 },
  { kind: "shuffleReply", nodes: [peer] },
  { kind: "gossip", id, round: 2, payload: new Uint8Array([1, 2, 3]) },
  { kind: "ihave", entries: [[id, 4]] },
  { kind: "graft", ids: [id] },
  { kind: "prune" },
];

Deno.test("wire: every gossip message round-trips through MessagePack", () => {
  for (const m of samples) {
    assert.deepEqual(decodeGossip(decode(encode(encodeGossip(m))), 1024), m);
  }
  const a = { kind: "notice" as const, peer, version: { start: 1, counter: 2 } };
  assert.deepEqual(decodeAnnouncement(decode(encode(encodeAnnouncement(a)))), a);
});

Deno.test("wire: limits are enforced", () => {
  const big = { kind: "gossip" as const, id, round: 0, payload: new Uint8Array(2000) };
  assert.throws(() => decodeGossip(decode(encode(encodeGossip(big))), 1024), DecodeError);
  const ttl = encodeGossip({ kind: "forwardJoin", peer, ttl: 1000 });
  assert.throws(() => decodeGossip(ttl, 1024), DecodeError);
});

Deno.test("wire: fuzzed input only ever throws DecodeError", () => {
  const check = (bytes: Uint8Array) => {
    let v: unknown;
    try {
      v = decode(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError);
      return;
    }
    for (
      const f of [
        (x: unknown) => decodeGossip(x, 1024),
        decodeAnnouncement,
      ]
    ) {
      try {
        f(v);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 2000 });
  const valid = samples.map((m) => encode(encodeGossip(m)));
  fc.assert(
    fc.property(
      fc.nat(valid.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      }),
      (which, edits) => {
        const b = valid[which].slice();
        for (const [i, x] of edits) b[i % b.length] = x;
        check(b);
      },
    ),
    { numRuns: 3000 },
  );
  // Structured junk: arbitrary MessagePack-able values.
  fc.assert(
    fc.property(fc.anything(), (x) => {
      for (const f of [(y: unknown) => decodeGossip(y, 1024), decodeAnnouncement]) {
        try {
          f(x);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("wire: an entry's payload id is its announcement's, computed from the entry alone", () => {
  const key = SecretKey.generate();
  const { bytes } = signEntry(key, {
    network: networkId("wire-ids"),
    peerId: key.peerId,
    version: { start: 1, counter: Date.now() },
    addresses: ["127.0.0.1:1"],
    tags: [],
    streams: [],
    groups: [],
    tickets: [],
  });
  const announced = payloadId(encode(encodeAnnouncement({ kind: "entry", bytes })));
  assert.equal(entryPayloadId(bytes), announced);
  assert.notEqual(payloadId(encode(encodeAnnouncement({ kind: "departure", bytes }))), announced);
});
