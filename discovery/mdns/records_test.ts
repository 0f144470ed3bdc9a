import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { networkId, SecretKey } from "@mosaik/transport";
import { encodeQuery, encodeResponse, networkSubtype, parsePacket, SERVICE } from "./records.ts";

const network = networkId("mdns-test");
const peer = SecretKey.generate().peerId;
const announcement = { network, peerId: peer, addresses: ["10.1.0.2:4433", "[fd00::2]:4433"] };

Deno.test("mdns records: a response round-trips and names the network's peers", () => {
  const parsed = parsePacket(encodeResponse(announcement), network);
  assert.deepEqual(parsed, {
    query: false,
    peers: [{ peerId: peer, addresses: ["10.1.0.2:4433", "[fd00::2]:4433"], goodbye: false }],
  });
  assert.deepEqual(parsePacket(encodeResponse(announcement, 0), network)?.peers[0].goodbye, true);
  // Another network's node is ignored.
  assert.deepEqual(parsePacket(encodeResponse(announcement), networkId("other"))?.peers, []);
  // The DNS-SD shape other tools read: PTR, SRV, TXT, A.
  const decoded = dnsPacket.decode(Buffer.from(encodeResponse(announcement)));
  const types = decoded.answers.map((a: { type: string }) => a.type).sort();
  assert.deepEqual(types, ["A", "PTR", "PTR", "SRV", "TXT"]);
  assert.ok(decoded.answers.some((a: { name: string }) => a.name === networkSubtype(network)));
});

Deno.test("mdns records: queries for the service or the subtype are ours to answer", () => {
  assert.equal(parsePacket(encodeQuery(network), network)?.query, true);
  const other = dnsPacket.encode({
    type: "query",
    questions: [{ name: "_http._tcp.local", type: "PTR" }],
  });
  assert.equal(parsePacket(new Uint8Array(other), network)?.query, false);
  const plain = dnsPacket.encode({ type: "query", questions: [{ name: SERVICE, type: "PTR" }] });
  assert.equal(parsePacket(new Uint8Array(plain), network)?.query, true);
});

Deno.test("mdns records: fuzzed packets never throw", () => {
  const valid = [encodeResponse(announcement), encodeQuery(network)];
  const mutated = fc.tuple(
    fc.constantFrom(...valid),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    }),
  ).map(([base, edits]) => {
    const b = base.slice();
    for (const [pos, v] of edits) b[pos % b.length] = v;
    return b;
  });
  let malformed = 0;
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated), (bytes) => {
      if (parsePacket(bytes, network) === undefined) malformed++;
    }),
    { numRuns: 4000 },
  );
  assert.ok(malformed > 100);
});
