import assert from "node:assert/strict";
import { BencodeError, decodeBencode, encodeBencode } from "./bencode.ts";
import { DecodeError } from "@mosaik/transport";

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);

Deno.test("bencode: BEP 5 worked packets round-trip byte-exactly", () => {
  const packets = [
    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
    "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
    "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
  ];
  for (const p of packets) assert.equal(td.decode(encodeBencode(decodeBencode(b(p)) as never)), p);
  const ping = decodeBencode(b(packets[0])) as Record<string, unknown>;
  assert.deepEqual(ping.q, b("ping"));
});

Deno.test("bencode: encodes text, integers, big integers, lists, sorted dicts", () => {
  assert.equal(
    td.decode(encodeBencode({ z: 1, a: [-3, "x"], m: 2n ** 63n })),
    "d1:ali-3e1:xe1:mi9223372036854775808e1:zi1ee",
  );
  assert.equal(decodeBencode(b("i9223372036854775808e")), 2n ** 63n);
  assert.equal(decodeBencode(b("i-42e")), -42);
  assert.equal(decodeBencode(b("i0e")), 0);
  assert.deepEqual(decodeBencode(b("0:")), new Uint8Array());
  assert.equal(td.decode(encodeBencode({ a: undefined, b: 1 })), "d1:bi1ee");
  assert.throws(() => encodeBencode(1.5), TypeError);
});

Deno.test("bencode: rejects non-canonical and malformed input with typed errors", () => {
  const bad = [
    "",
    "i",
    "ie",
    "i-e",
    "i-0e",
    "i03e",
    "i1",
    "i1x",
    "01:a",
    "2:a",
    "-1:a",
    "l",
    "d",
    "d1:a",
    "d1:bi1e1:ai1ee", // unsorted
    "d1:ai1e1:ai2ee", // duplicate
    "di1ei1ee", // non-string key
    "i1ei2e", // trailing bytes
    "le ", // trailing space
    "x",
    "i123456789012345678901e", // too long
  ];
  for (const s of bad) {
    assert.throws(
      () => decodeBencode(b(s)),
      (e) => e instanceof BencodeError && e instanceof DecodeError,
      s,
    );
  }
  assert.throws(() => decodeBencode(b("l".repeat(40) + "e".repeat(40))), BencodeError);
  assert.doesNotThrow(() => decodeBencode(b("l".repeat(10) + "e".repeat(10))));
  assert.throws(() => decodeBencode(new Uint8Array(70_000)), BencodeError);
  assert.throws(() => decodeBencode(b("4:abcd"), { maxSize: 3 }), BencodeError);
});
