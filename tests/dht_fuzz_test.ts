import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import {
  BencodeError,
  decodeBencode,
  DhtNode,
  encodeBencode,
  parseMessage,
} from "@mosaik/discovery/dht";
import { DecodeError } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";

const valid = [
  "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
  "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
  "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
  "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
  "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe",
  "d1:ad2:id20:abcdefghij01234567895:token8:aoeusnth1:v5:helloe1:q3:put1:t2:aa1:y1:qe",
  "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes26:abcdefghij0123456789\x7f\0\0\x01\x1a\xe1e1:t2:aa1:y1:re",
].map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)));

/** A valid packet with a few bytes flipped, inserted or cut. */
const mutated = fc.tuple(
  fc.constantFrom(...valid),
  fc.array(
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "insert", "cut")),
    {
      minLength: 1,
      maxLength: 4,
    },
  ),
).map(([base, edits]) => {
  let bytes = Array.from(base);
  for (const [pos, value, op] of edits) {
    const i = pos % (bytes.length + 1);
    if (op === "flip") bytes[i % bytes.length] = value;
    else if (op === "insert") bytes.splice(i, 0, value);
    else bytes = bytes.slice(0, i);
  }
  return new Uint8Array(bytes);
});

const anyInput = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated);

Deno.test("fuzz: bencode and KRPC parsing only ever throw DecodeError", () => {
  fc.assert(
    fc.property(anyInput, (bytes) => {
      for (const parse of [decodeBencode, parseMessage]) {
        try {
          parse(bytes);
        } catch (e) {
          assert.ok(e instanceof DecodeError, `${e}`);
        }
      }
    }),
    { numRuns: 5000 },
  );
  // Whatever decodes re-encodes to the same bytes (canonical form is unique).
  fc.assert(
    fc.property(mutated, (bytes) => {
      let v;
      try {
        v = decodeBencode(bytes);
      } catch (e) {
        assert.ok(e instanceof BencodeError);
        return;
      }
      assert.deepEqual(encodeBencode(v), bytes);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("fuzz: a node drops and counts malformed datagrams and keeps answering", async () => {
  const node = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const client = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const raw = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const samples = fc.sample(anyInput, { numRuns: 3000, seed: 42 }).filter((b) => b.length > 0);
    // In batches, so the socket buffer never overflows and every datagram is seen.
    for (let i = 0; i < samples.length; i += 200) {
      for (const bytes of samples.slice(i, i + 200)) {
        await raw.send(bytes, { transport: "udp", hostname: "127.0.0.1", port: node.port });
      }
      const expected = Math.min(i + 200, samples.length);
      await eventually(() => node.stats.received >= expected, {
        message: `${expected} datagrams received`,
      });
    }
    assert.ok(node.stats.malformed > samples.length / 2, `malformed ${node.stats.malformed}`);
    // Still a working node.
    assert.deepEqual(await client.ping(node.address), node.id);
  } finally {
    raw.close();
    await client.close();
    await node.close();
  }
});
