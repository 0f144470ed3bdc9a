import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, DecodeError, encode, type PeerId, SecretKey } from "@mosaik/transport";
import { decodeSummary, decodeSyncReply, encodeSummary, encodeSyncReply } from "./_summary.ts";

const peers = [0, 1, 2].map((i) => ({
  peerId: SecretKey.generate().peerId,
  version: { start: [0, 200, 1_760_000_000_000][i], counter: [5, 70_000, 2 ** 53 - 1][i] },
}));

function collect(read: (each: (p: PeerId, s: number, c: number) => void) => void) {
  const out: [PeerId, number, number][] = [];
  read((p, s, c) => out.push([p, s, c]));
  return out;
}

Deno.test("summary: written bytes are the MessagePack of the summary, read back as written", () => {
  const bytes = encodeSummary(peers);
  const items = peers.map((p) => [p.peerId, p.version.start, p.version.counter]);
  assert.deepEqual(collect((each) => decodeSummary(bytes, 10, each)), items);
  // What a generic encoder makes of the same summary reads the same.
  const generic = decode<[Uint8Array, number, number][]>(bytes);
  assert.equal(generic.length, 3);
  assert.deepEqual(collect((each) => decodeSummary(encode(generic), 10, each)), items);
  const entries = [new Uint8Array(3), new Uint8Array(300).fill(7), new Uint8Array(70_000)];
  const reply = encodeSyncReply(entries, peers);
  const [gotEntries] = decode<[Uint8Array[], unknown]>(reply);
  assert.deepEqual(gotEntries, entries);
  let read: Uint8Array[] = [];
  assert.deepEqual(
    collect((each) => read = decodeSyncReply(reply, 10, 10, each)),
    items,
  );
  assert.deepEqual(read, entries);
});

Deno.test("summary: limits and malformed input throw DecodeError", () => {
  const none = () => {};
  assert.throws(() => decodeSummary(encodeSummary(peers), 2, none), DecodeError);
  assert.throws(() => decodeSyncReply(encodeSyncReply([new Uint8Array(1)], []), 0, 1, none));
  assert.throws(() => decodeSummary(encode([[new Uint8Array(31), 1, 2]]), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([[new Uint8Array(32), -1, 2]]), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([[new Uint8Array(32), 1.5, 2]]), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([[new Uint8Array(32), 1]]), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([["x", 1, 2]]), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([[], "more"]), 9, none), DecodeError);
  const bytes = encodeSummary(peers);
  assert.throws(() => decodeSummary(bytes.subarray(0, bytes.length - 1), 9, none), DecodeError);
  assert.throws(() => decodeSummary(encode([[new Uint8Array(32), 1, 2], 3]), 9, none));
  const trailing = new Uint8Array([...bytes, 0]);
  assert.throws(() => decodeSummary(trailing, 9, none), DecodeError);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    try {
      decodeSummary(b, 100, none);
      decodeSyncReply(b, 100, 100, none);
    } catch (e) {
      assert.ok(e instanceof DecodeError);
    }
  }));
});
