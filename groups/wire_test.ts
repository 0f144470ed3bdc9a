import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, DecodeError, encode } from "@mosaik/transport";
import { parseHello, parseMessage, parseWelcome } from "./_wire.ts";
import type { ReplicaMessage } from "./_replica_types.ts";

const valid: ReplicaMessage[] = [
  { type: "PreVote", term: 3, lastIndex: 9, lastTerm: 2, cluster: "c" },
  { type: "VoteR", term: 3, reject: true },
  {
    type: "App",
    term: 4,
    prevIndex: 1,
    prevTerm: 1,
    commit: 1,
    entries: [
      { index: 2, term: 4, type: 0 },
      { index: 3, term: 4, type: 1, data: new Uint8Array([1, 2]) },
      { index: 4, term: 4, type: 2, config: { cluster: "c", voters: ["a"], learners: [] } },
    ],
  },
  { type: "AppR", term: 4, index: 3, reject: false, hint: 0, hintTerm: 0 },
  { type: "Hb", term: 4, commit: 3, ctx: "x:1", lc: 5, lct: 4 },
  { type: "HbR", term: 4, last: 7 },
  {
    type: "Snap",
    term: 4,
    snapshot: {
      index: 9,
      term: 3,
      config: { cluster: "c", voters: ["a"], learners: ["b"] },
      data: new Uint8Array(3),
    },
    offset: 2,
    total: 5,
    crc: 77,
  },
  { type: "SnapR", term: 4, index: 9, offset: 5 },
  { type: "TimeoutNow", term: 4 },
  { type: "ReadIndex", term: 4, ctx: "q" },
  { type: "ReadIndexR", term: 4, ctx: "q", index: -1 },
  { type: "Prop", data: [new Uint8Array([9])] },
  { type: "Status", cluster: "c", commit: 4, learner: false, lead: "a" },
  { type: "Leave" },
  { type: "Left" },
  { type: "FetchSum", from: 3, to: 9, at: 12, atTerm: 2, cluster: "c" },
  { type: "FetchSumR", from: 3, to: 9, sum: new Uint8Array(32), cluster: "c" },
  { type: "SnapPlan", index: 9, term: 3, first: 0, cluster: "c" },
  {
    type: "SnapPlanR",
    index: 9,
    term: 3,
    piece: 4,
    first: 0,
    digests: new Uint8Array(64),
    cluster: "c",
  },
  { type: "SnapGet", index: 9, term: 3, crc: 77, total: 5, offset: 4, length: 1, cluster: "c" },
  { type: "SnapPiece", index: 9, offset: 4, data: new Uint8Array(1), cluster: "c" },
];

Deno.test("wire: valid messages survive encode/decode/parse", () => {
  for (const m of valid) {
    assert.deepEqual(decode(encode(parseMessage(decode(encode(m))))), decode(encode(m)));
  }
});

Deno.test("wire: malformed input is rejected with DecodeError (fuzz)", () => {
  const check = (x: unknown) => {
    for (const parse of [parseMessage, parseHello, parseWelcome]) {
      try {
        parse(x);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }
  };
  fc.assert(fc.property(fc.anything({ withTypedArray: true }), check), { numRuns: 3000 });
  // Mutations of valid messages: each field replaced by random values.
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.string(), fc.anything(), (m, k, v) => {
      check({ ...m, [Object.keys(m)[k.length % Object.keys(m).length]]: v });
    }),
    { numRuns: 3000 },
  );
  // Random bytes through the codec.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      let x: unknown;
      try {
        x = decode(b);
      } catch (e) {
        assert.ok(e instanceof DecodeError);
        return;
      }
      check(x);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("wire: entry indexes must follow prevIndex", () => {
  assert.throws(
    () =>
      parseMessage({
        type: "App",
        term: 1,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        entries: [{ index: 5, term: 1, type: 0 }],
      }),
    DecodeError,
  );
});

Deno.test("wire: snapshot pieces and manifests beyond their bounds are rejected", () => {
  const piece = { type: "SnapPiece", index: 1, offset: 0, data: new Uint8Array((1 << 20) + 1) };
  assert.throws(() => parseMessage(piece), DecodeError);
  const plan = {
    type: "SnapPlanR",
    index: 1,
    term: 1,
    piece: 1,
    first: 0,
    digests: new Uint8Array(2 << 20),
  };
  assert.throws(() => parseMessage(plan), DecodeError);
});
