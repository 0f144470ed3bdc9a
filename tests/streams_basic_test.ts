// Streams acceptance, part 1: delivery, declarations, stats, shared producers,
// ordering and fan-out copies.
import assert from "node:assert/strict";
import { ClosedError, digest } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { type Codec, codecs, stream } from "@mosaik/streams";
import { cluster } from "./streams_harness.ts";

const Data1 = stream<string>("tests.data1");

/** Datum `i` of the batch-frame tests: 1 KiB whose bytes tell `i` apart from its neighbours. */
const block = (i: number) => new Uint8Array(1024).fill(i % 251).fill(i >> 8, 0, 4);

Deno.test("streams: each of two consumers receives all 100 datums of one producer", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const p0 = n0.streams.produce(Data1);
    const c1 = n1.streams.consume(Data1);
    const c2 = n2.streams.consume(Data1);
    await within(c1.when.subscribed(), 5000, "c1 subscribed");
    await within(c2.when.subscribed(), 5000, "c2 subscribed");
    await within(p0.when.subscribed({ minimum: 2 }), 5000, "p0 has two");
    const sending = (async () => {
      for (let i = 0; i < 100; i++) await p0.send("hello from n0");
    })();
    for (let i = 0; i < 100; i++) {
      assert.equal(await c1.recv(), "hello from n0");
      assert.equal(await c2.recv(), "hello from n0");
    }
    await sending;
    assert.equal(c1.stats.datums, 100);
    assert.equal(c2.stats.datums, 100);
  } finally {
    await c.close();
  }
});

Deno.test("streams: 2000 datums in order, two consumers each get a full copy", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const p = n0.streams.produce(Data1);
    const a = n1.streams.consume(Data1);
    const b = n2.streams.consume(Data1);
    await within(p.when.subscribed({ minimum: 2 }), 5000, "two subscribers");
    for (let i = 0; i < 2000; i++) await p.send(`d${i}`);
    for (const consumer of [a, b]) {
      for (let i = 0; i < 2000; i++) assert.equal(await consumer.recv(), `d${i}`);
      assert.equal(consumer.stats.gaps, 0);
      assert.equal(consumer.tryRecv(), undefined);
    }
    await eventually(() => p.consumers().every((s) => s.stats.datums === 2000));
    assert.equal(p.stats.sent, 2000);
  } finally {
    await c.close();
  }
});

Deno.test("streams: batch frames whose memory producers reuse reach three consumers intact", async () => {
  // 1 KiB datums fill 64 KiB batch frames, whose buffers go back to the
  // producer once every channel handed them to QUIC: a buffer reused too early
  // would show as another datum's bytes here.
  const Blocks = stream<Uint8Array>("tests.blocks", { codec: codecs.bytes });
  const c = await cluster(4);
  try {
    const [n0, ...others] = c.nodes;
    const p = n0.streams.produce(Blocks, { bufferSize: 8192, lagging: "block" });
    const consumers = others.map((n) => n.streams.consume(Blocks));
    await within(p.when.subscribed({ minimum: 3 }), 5000, "three subscribers");
    const count = 3000;
    const reading = consumers.map(async (consumer) => {
      for (let i = 0; i < count; i++) {
        assert.deepEqual(await consumer.recv(), block(i), `datum ${i}`);
      }
    });
    for (let i = 0; i < count; i++) await p.send(block(i));
    await within(Promise.all(reading), 20_000, "every datum at every consumer");
  } finally {
    await c.close();
  }
});

Deno.test("streams: batch frames queued behind a stalled consumer keep their bytes", async () => {
  // The consumer reads nothing at first: QUIC stops taking bytes, and the
  // producer's batch frames (bursts of 60 datums) queue in its channel, each
  // caught up with, so the producer forgets every frame at once. A frame's
  // memory must not serve the next burst while the channel still holds it.
  const Blocks = stream<Uint8Array>("tests.stalled", { codec: codecs.bytes });
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Blocks, { bufferSize: 100_000, lagging: "block" });
    const consumer = n1.streams.consume(Blocks, { bufferSize: 64 });
    await within(p.when.subscribed(), 5000, "a subscriber");
    const bursts = 300;
    for (let b = 0; b < bursts; b++) {
      await Promise.all(Array.from({ length: 60 }, (_, k) => p.send(block(b * 60 + k))));
      await new Promise((r) => setTimeout(r, 0)); // the pump takes the burst alone
    }
    for (let i = 0; i < bursts * 60; i++) {
      assert.deepEqual(await within(consumer.recv(), 10_000, `datum ${i}`), block(i), `datum ${i}`);
    }
  } finally {
    await c.close();
  }
});

Deno.test("streams: custom stream ids keep streams apart", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const s1 = stream<string>("stream1234");
    const s2 = stream<string>("stream5678");
    const p1 = n0.streams.produce(s1);
    const p2 = n0.streams.produce(s2);
    const c1 = n1.streams.consume(s1);
    const c2 = n1.streams.consume(s2);
    await within(c1.when.subscribed(), 3000, "c1");
    await within(c2.when.subscribed(), 3000, "c2");
    await within(p1.send("hello1234"), 3000);
    await within(p2.send("hello5678"), 3000);
    assert.equal(await within(c1.recv(), 3000), "hello1234");
    assert.equal(await within(c2.recv(), 3000), "hello5678");
    assert.equal(c1.tryRecv(), undefined);
    assert.equal(c2.tryRecv(), undefined);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a custom codec encodes and decodes datums end to end", async () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const codec: Codec<string> = {
    encode: (s) => enc.encode(s),
    decode: (b) => `${dec.decode(b)}-custom-decode`,
  };
  const Custom = stream("tests.custom", { codec });
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Custom);
    const r = n1.streams.consume(Custom);
    await within(r.when.subscribed(), 3000);
    await within(p.when.subscribed(), 3000);
    await p.send("hello custom encoding");
    assert.equal(await within(r.recv(), 3000), "hello custom encoding-custom-decode");
  } finally {
    await c.close();
  }
});

Deno.test("streams: a declaration's id comes from its name and schema", () => {
  const def = stream<string>("my-stream1");
  assert.equal(def.id, digest("my-stream1"));
  assert.equal(stream("my-stream1").id, def.id);
  const v1 = stream("prices", { schema: "price/v1" });
  const v2 = stream("prices", { schema: "price/v2" });
  assert.notEqual(v1.id, v2.id);
  assert.notEqual(v1.id, stream("prices").id);
  const hex = digest("const.stream");
  assert.equal(stream(hex).id, hex);
  assert.ok(Object.isFrozen(def));
});

Deno.test("streams: producers of different schemas never meet", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const v1 = stream<{ px: number }>("tests.prices", { schema: "price/v1" });
    const v2 = stream<{ px: string }>("tests.prices", { schema: "price/v2" });
    const p = n0.streams.produce(v1);
    const wrong = n1.streams.consume(v2);
    const right = n1.streams.consume(v1);
    await within(right.when.subscribed(), 3000);
    await p.send({ px: 1 });
    assert.deepEqual(await within(right.recv(), 3000), { px: 1 });
    assert.equal(wrong.producers().length, 0);
    assert.equal(wrong.tryRecv(), undefined);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer stats count datums and bytes per subscriber and in the snapshot", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const p = n0.streams.produce(Data1);
    assert.equal(p.consumers().length, 0);
    const c1 = n1.streams.consume(Data1);
    await within(c1.when.subscribed(), 3000);
    await eventually(() => p.consumers()[0]?.state === "connected");
    assert.equal(p.consumers().length, 1);
    assert.deepEqual([p.consumers()[0].stats.datums, p.consumers()[0].stats.bytes], [0, 0]);
    assert.deepEqual([c1.producers()[0].stats.datums, c1.producers()[0].stats.bytes], [0, 0]);
    await p.send("test");
    assert.equal(await within(c1.recv(), 3000), "test");
    await eventually(() => p.consumers()[0].stats.datums === 1);
    assert.equal(p.consumers()[0].stats.bytes, 5);
    assert.deepEqual([c1.producers()[0].stats.datums, c1.producers()[0].stats.bytes], [1, 5]);
    const c2 = n2.streams.consume(Data1);
    await within(c2.when.subscribed(), 3000);
    await within(p.when.subscribed({ minimum: 2 }), 3000);
    await p.send("data2");
    assert.equal(await within(c1.recv(), 3000), "data2");
    assert.equal(await within(c2.recv(), 3000), "data2");
    const by = (id: string) => p.consumers().find((s) => s.consumerId === id)!.stats;
    await eventually(() => by(n2.id).datums === 1 && by(n1.id).datums === 2);
    assert.deepEqual([by(n1.id).datums, by(n1.id).bytes], [2, 11]);
    assert.deepEqual([by(n2.id).datums, by(n2.id).bytes], [1, 6]);
    assert.deepEqual([c1.producers()[0].stats.datums, c1.producers()[0].stats.bytes], [2, 11]);
    assert.deepEqual([c2.producers()[0].stats.datums, c2.producers()[0].stats.bytes], [1, 6]);
    assert.ok(p.consumers()[0].stats.connectedAt! <= Date.now());
    const snap = n0.streams.snapshot();
    assert.equal(snap.producers.length, 1);
    assert.equal(snap.producers[0].name, "tests.data1");
    assert.equal(snap.producers[0].stats.sent, 2);
    assert.equal(snap.producers[0].consumers.length, 2);
    const mine = n1.streams.snapshot().consumers[0];
    assert.deepEqual([mine.streamId, mine.stats.datums, mine.producers.length], [Data1.id, 2, 1]);
    JSON.stringify(snap); // diagnostics can serve it as is
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer stats count datums and bytes per producer when fanning in from two", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const c0 = n0.streams.consume(Data1);
    assert.equal(c0.producers().length, 0);
    const p1 = n1.streams.produce(Data1);
    await within(c0.when.subscribed({ minimum: 1 }), 2000);
    assert.equal(c0.producers().length, 1);
    await within(p1.send("hello"), 2000);
    assert.equal(await within(c0.recv(), 1000), "hello");
    assert.deepEqual([c0.producers()[0].stats.datums, c0.producers()[0].stats.bytes], [1, 6]);
    const p2 = n2.streams.produce(Data1);
    await within(c0.when.subscribed({ minimum: 2 }), 2000);
    await within(p2.send("world"), 2000);
    assert.equal(await within(c0.recv(), 1000), "world");
    await within(p1.send("again"), 2000);
    assert.equal(await within(c0.recv(), 1000), "again");
    const by = (id: string) => c0.producers().find((s) => s.producerId === id)!.stats;
    assert.deepEqual([by(n1.id).datums, by(n1.id).bytes], [2, 12]);
    assert.deepEqual([by(n2.id).datums, by(n2.id).bytes], [1, 6]);
    assert.deepEqual([c0.stats.datums, c0.stats.bytes], [3, 18]);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producers of one stream on a node share one worker", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const first = n0.streams.produce(Data1, { require: (p) => p.hasTag("tag1") });
    const second = n0.streams.produce(Data1, { require: () => false });
    assert.equal(second.streamId, first.streamId);
    const consumer = n1.streams.consume(Data1);
    // the first handle's options rule: n1 has no tag1, so it is refused
    await eventually(() => first.stats.rejected >= 1);
    await eventually(() => consumer.producers().length === 0, { message: "refusal taken" });
    n1.setTags(["tag1"]);
    await within(first.when.subscribed(), 5000, "admitted once tagged");
    await second.send("via second");
    assert.equal(await within(consumer.recv(), 3000), "via second");
    await first.close();
    assert.ok(second.online, "the worker lives while a handle remains");
    await second.send("still here");
    assert.equal(await within(consumer.recv(), 3000), "still here");
    await second.close();
    await within(consumer.when.unsubscribed(), 3000, "ended with the last handle");
    assert.throws(() => second.trySend("x"), (e) => e instanceof ClosedError);
  } finally {
    await c.close();
  }
});

Deno.test("streams: recv and every when.* stop waiting when their signal aborts", async () => {
  const c = await cluster(1);
  try {
    const [n0] = c.nodes;
    const consumer = n0.streams.consume(Data1, { noProducerWarning: Infinity });
    const producer = n0.streams.produce(Data1);
    const stop = new AbortController();
    const waits = [
      consumer.recv({ signal: stop.signal }),
      consumer.when.subscribed({ signal: stop.signal }),
      consumer.when.offline({ signal: stop.signal }),
      producer.when.online({ signal: stop.signal }),
      producer.when.subscribed({ minimum: 1, signal: stop.signal }),
    ];
    stop.abort(new Error("no longer needed"));
    for (const w of waits) await assert.rejects(w, /no longer needed/);
    await consumer.close();
    assert.equal(await consumer.recv(), undefined, "a closed consumer ends reception");
    await assert.rejects(consumer.when.subscribed(), ClosedError);
  } finally {
    await c.close();
  }
});
