import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { DecodeError, digest, encode, networkId, type StreamId } from "@mosaik/transport";
import {
  controlFromWire,
  controlToWire,
  decodeDataFrame,
  encodeBatch,
  encodeEnd,
  FRAME_BATCH,
  FrameCache,
  loneBatch,
} from "./_wire.ts";

Deno.test("wire: batch frames round-trip with sequence numbers", () => {
  const seqs = [7, 8, 10, 2 ** 32 + 9]; // the largest delta a batch carries
  const datas = [
    new Uint8Array([1]),
    new Uint8Array(0),
    new Uint8Array([2, 3]),
    new Uint8Array(300),
  ];
  const frame = encodeBatch(seqs, datas, 0, 4);
  assert.equal(frame[0], FRAME_BATCH);
  const out = decodeDataFrame(frame);
  assert.equal(out.kind, "batch");
  if (out.kind !== "batch") return;
  assert.deepEqual(out.seqs, seqs);
  assert.deepEqual(out.datas, datas);
  const part = decodeDataFrame(encodeBatch(seqs, datas, 1, 3));
  assert.deepEqual(part.kind === "batch" && part.seqs, [8, 10]);
});

Deno.test("wire: a lone datum's batch in parts is the batch frame of that datum", () => {
  const datum = new Uint8Array([9, 8, 7]);
  const [head, data] = loneBatch(2 ** 40, datum);
  assert.equal(data, datum);
  assert.deepEqual(new Uint8Array([...head, ...data]), encodeBatch([2 ** 40], [datum], 0, 1));
});

Deno.test("wire: end frames and control messages round-trip", () => {
  assert.deepEqual(decodeDataFrame(encodeEnd(42)), { kind: "end", nextSeq: 42 });
  const network = networkId("n");
  const stream = digest<StreamId>("s");
  for (
    const c of [
      { t: "subscribe" as const, network, stream },
      { t: "start" as const, network, stream, epoch: 9, seq: 3 },
      { t: "ping" as const, n: 5 },
      { t: "pong" as const, n: 5 },
    ]
  ) {
    assert.deepEqual(controlFromWire(controlToWire(c)), c);
  }
});

Deno.test("wire: malformed frames are rejected with DecodeError", () => {
  const good = encodeBatch([1, 2], [new Uint8Array([1]), new Uint8Array([2])], 0, 2);
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([3]),
    good.subarray(0, 10),
    good.subarray(0, good.length - 1),
    new Uint8Array([...good, 0]),
    new Uint8Array([2, 0, 0]),
  ];
  const zeroCount = good.slice();
  new DataView(zeroCount.buffer).setUint32(1, 0);
  cases.push(zeroCount);
  const repeatSeq = good.slice();
  new DataView(repeatSeq.buffer).setUint32(13 + 9, 0); // second item's delta
  cases.push(repeatSeq);
  const negative = good.slice();
  new DataView(negative.buffer).setFloat64(5, -1);
  cases.push(negative);
  const fraction = encodeEnd(0);
  new DataView(fraction.buffer).setFloat64(1, 0.5);
  cases.push(fraction);
  for (const c of cases) assert.throws(() => decodeDataFrame(c), DecodeError, `case ${c}`);
  for (
    const v of [
      null,
      [],
      "x",
      { t: "subscribe", network: new Uint8Array(31), stream: new Uint8Array(32) },
      { t: "start", network: new Uint8Array(32), stream: new Uint8Array(32), epoch: -1, seq: 0 },
      { t: "ping", n: 1.5 },
      { t: "other" },
    ]
  ) assert.throws(() => controlFromWire(v), DecodeError);
});

Deno.test("wire: fuzzed data frames either decode consistently or throw DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, batch) => {
      if (batch && bytes.length > 0) bytes[0] = FRAME_BATCH;
      try {
        const out = decodeDataFrame(bytes);
        if (out.kind === "batch") {
          assert.ok(out.seqs.length > 0 && out.seqs.length === out.datas.length);
          for (let i = 1; i < out.seqs.length; i++) assert.ok(out.seqs[i] > out.seqs[i - 1]);
        }
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("wire: fuzzed control values never throw anything but DecodeError", () => {
  fc.assert(
    fc.property(fc.anything(), (v) => {
      try {
        controlFromWire(v);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.record({
        t: fc.constantFrom("subscribe", "start", "ping", "pong"),
        network: fc.uint8Array({ minLength: 30, maxLength: 33 }),
        stream: fc.uint8Array({ minLength: 30, maxLength: 33 }),
        epoch: fc.double(),
        seq: fc.integer(),
        n: fc.double(),
      }),
      (v) => {
        try {
          controlFromWire(v);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
        encode(v);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("wire: subscribers taking the same range of datums share one encoded frame", () => {
  const cache = new FrameCache(2);
  const seqs = [5, 6, 7, 8];
  const datas = seqs.map((s) => new Uint8Array([s]));
  const a = cache.batch(seqs, datas, 0, 2);
  assert.equal(cache.batch(seqs.slice(), datas.slice(), 0, 2), a, "same range, same frame");
  const b = cache.batch(seqs, datas, 0, 3);
  assert.notEqual(b, a);
  assert.deepEqual(decodeDataFrame(b), {
    kind: "batch",
    seqs: [5, 6, 7],
    datas: datas.slice(0, 3),
  });
  cache.batch(seqs, datas, 2, 4);
  assert.notEqual(cache.batch(seqs, datas, 0, 2), a, "evicted after `size` newer frames");
  const c = cache.batch(seqs, datas, 1, 3);
  cache.clear();
  assert.notEqual(cache.batch(seqs, datas, 1, 3), c, "forgotten once cleared");
});
