// Streams acceptance, part 4: late producers, restarts with gap reports,
// slow consumers, lagging policies and end-to-end backpressure.
import assert from "node:assert/strict";
import { CloseCode } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { codecs, FullError, stream } from "@mosaik/streams";
import { cluster } from "./streams_harness.ts";

const Data = stream<string>("tests.resilience.data");
const Blob = stream("tests.resilience.blob", { codec: codecs.bytes });

Deno.test("streams: a consumer created before its producer subscribes when it appears", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const consumer = n1.streams.consume(Data);
    assert.equal(consumer.producers().length, 0);
    const producer = n0.streams.produce(Data);
    await within(consumer.when.subscribed(), 5000);
    await producer.send("late producer");
    assert.equal(await within(consumer.recv(), 3000), "late producer");
  } finally {
    await c.close();
  }
});

Deno.test("streams: after a producer restart the consumer resumes and reports the gap", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const consumer = n1.streams.consume(Data);
    const first = n0.streams.produce(Data);
    await within(first.when.subscribed(), 5000);
    for (let i = 0; i < 10; i++) await first.send(`a${i}`);
    for (let i = 0; i < 10; i++) assert.equal(await within(consumer.recv(), 3000), `a${i}`);
    await first.close();
    await within(consumer.when.unsubscribed(), 3000);
    assert.ok(
      !n1.streams.discovery.catalog.get(n0.id)?.streams.includes(Data.id),
      "closing the last producer unadvertises the stream",
    );
    // the restarted producer sends five datums nobody receives, then one after resubscription
    const undelivered: string[] = [];
    const second = n0.streams.produce(Data, {
      onlineWhen: { minimum: 0 },
      undelivered: (d) => undelivered.push(d),
    });
    for (let i = 0; i < 5; i++) second.trySend(`lost${i}`);
    assert.deepEqual(undelivered, ["lost0", "lost1", "lost2", "lost3", "lost4"]);
    await within(consumer.when.subscribed(), 5000);
    await within(second.when.subscribed(), 5000);
    await second.send("b0");
    assert.equal(await within(consumer.recv(), 3000), "b0");
    assert.equal(consumer.stats.gaps, 1);
    assert.equal(consumer.stats.missed, 5);
    const channel = consumer.producers()[0].stats;
    assert.deepEqual([channel.gaps, channel.missed, channel.reconnects], [1, 5, 0]);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a slow consumer is disconnected without slowing a fast one", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const producer = n0.streams.produce(Blob, { bufferSize: 32 });
    const fast = n1.streams.consume(Blob);
    const slow = n2.streams.consume(Blob, { bufferSize: 4 }); // never read: pushes back
    await within(producer.when.subscribed({ minimum: 2 }), 5000);
    const total = 600;
    const datum = new Uint8Array(32 * 1024);
    const reading = (async () => {
      let n = 0;
      for await (const d of fast) {
        assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(0), n);
        if (++n === total) return n;
      }
      return n;
    })();
    for (let i = 0; i < total; i++) {
      new DataView(datum.buffer).setUint32(0, i);
      await producer.send(datum.slice());
    }
    assert.equal(await within(reading, 20_000, "fast consumer got everything"), total);
    assert.equal(fast.stats.gaps, 0);
    assert.equal(fast.stats.reconnects, 0, "the fast consumer was never cut off");
    assert.ok(producer.stats.lagged >= 1, "the slow consumer was cut off as too slow");
    assert.ok(producer.stats.dropped >= 1);
    assert.ok(slow.stats.datums < total);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a consumer that reads slowly loses datums (drop), a fast one loses none", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const producer = n0.streams.produce(Blob, { bufferSize: 64, lagging: "drop", lagTimeout: 200 });
    const fast = n1.streams.consume(Blob);
    const slow = n2.streams.consume(Blob, { bufferSize: 4 });
    await within(producer.when.subscribed({ minimum: 2 }), 5000);
    let stop = false;
    const slowReader = (async () => {
      for await (const _ of slow) {
        if (stop) return;
        await new Promise((r) => setTimeout(r, 5)); // a slow application
      }
    })();
    const total = 1500;
    const reading = (async () => {
      let n = 0;
      for await (const d of fast) {
        assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(0), n);
        if (++n === total) return n;
      }
      return n;
    })();
    for (let i = 0; i < total; i++) {
      const d = new Uint8Array(16 * 1024);
      new DataView(d.buffer).setUint32(0, i);
      await producer.send(d);
    }
    assert.equal(await within(reading, 20_000), total);
    assert.deepEqual([fast.stats.gaps, fast.stats.reconnects], [0, 0]);
    assert.ok(producer.stats.dropped > 0);
    assert.equal(producer.stats.lagged, 0, "drop never disconnects");
    // once the slow consumer has everything that was written for it, one more
    // datum shows it the datums dropped before it
    const forSlow = () => producer.consumers().find((x) => x.consumerId === n2.id)!.stats;
    await eventually(() => forSlow().queued === 0 && forSlow().datums === slow.stats.datums, {
      timeout: 10_000,
    });
    await producer.send(new Uint8Array(1));
    await eventually(() => slow.stats.missed === producer.stats.dropped, {
      timeout: 5000,
      message: "the slow consumer counts exactly the datums dropped for it",
    });
    stop = true;
    await slow.close();
    await slowReader;
  } finally {
    await c.close();
  }
});

Deno.test("streams: lagging 'drop' keeps the consumer and reports exactly what it missed", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const producer = n0.streams.produce(Blob, { bufferSize: 16, lagging: "drop" });
    const consumer = n1.streams.consume(Blob, { bufferSize: 4 });
    await within(producer.when.subscribed(), 5000);
    const total = 1500;
    for (let i = 0; i < total; i++) await producer.send(new Uint8Array(16 * 1024));
    await eventually(() => producer.stats.dropped > 0, { timeout: 5000 });
    let received = 0;
    const drain = () => {
      while (consumer.tryRecv() !== undefined) received++;
    };
    // read everything that got through, then one more datum reveals any dropped tail
    await eventually(() => {
      drain();
      const sub = producer.consumers()[0].stats;
      return sub.queued === 0 && sub.datums === consumer.stats.datums;
    }, { timeout: 10_000 });
    await producer.send(new Uint8Array(1));
    await within(consumer.recv(), 3000);
    drain();
    received++;
    assert.equal(producer.stats.lagged, 0);
    assert.equal(consumer.producers().length, 1, "still subscribed");
    assert.ok(consumer.stats.gaps >= 1);
    assert.equal(received + consumer.stats.missed, total + 1);
    assert.equal(consumer.stats.missed, producer.stats.dropped);
  } finally {
    await c.close();
  }
});

Deno.test("streams: lagging 'block' with a bounded consumer queue paces the producer to the reader", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const producer = n0.streams.produce(Blob, { bufferSize: 8, lagging: "block" });
    const consumer = n1.streams.consume(Blob, { bufferSize: 8 });
    await within(producer.when.subscribed(), 5000);
    let accepted = 0;
    let full: FullError<Uint8Array> | undefined;
    await eventually(() => {
      for (let i = 0; i < 1000; i++) {
        try {
          const d = new Uint8Array(4096);
          new DataView(d.buffer).setUint32(0, accepted);
          producer.trySend(d);
          accepted++;
        } catch (e) {
          if (!(e instanceof FullError)) throw e;
          full = e;
          return true;
        }
      }
      return false;
    }, { timeout: 10_000, message: "the producer fills up" });
    assert.equal(new DataView(full!.datum.buffer).getUint32(0), accepted, "the datum comes back");
    for (let i = 0; i < accepted; i++) {
      const d = (await within(consumer.recv(), 5000))!;
      assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(0), i);
    }
    // send() waits for room while a deliberately slow reader takes its time
    const total = 2000;
    const reader = (async () => {
      for (let i = 0; i < total; i++) {
        const d = (await within(consumer.recv(), 5000))!;
        assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(0), i);
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let i = 0; i < total; i++) {
      const d = new Uint8Array(4096);
      new DataView(d.buffer).setUint32(0, i);
      await producer.send(d);
    }
    await reader;
    assert.deepEqual(
      [consumer.stats.gaps, producer.stats.dropped, producer.stats.lagged],
      [0, 0, 0],
    );
  } finally {
    await c.close();
  }
});

Deno.test("streams: closing a producer ends its consumers gracefully", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const producer = n0.streams.produce(Data);
    const consumer = n1.streams.consume(Data);
    await within(producer.when.subscribed(), 5000);
    await producer.send("last words");
    await producer.close();
    assert.equal(await within(consumer.recv(), 3000), "last words", "queued data is flushed");
    await within(consumer.when.unsubscribed(), 3000);
    await eventually(() => consumer.producers().length === 0);
    assert.equal(CloseCode.GracefulShutdown, 204);
  } finally {
    await c.close();
  }
});

Deno.test("streams: async iteration ends when the consumer closes", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const producer = n0.streams.produce(Data);
    await using consumer = n1.streams.consume(Data);
    await within(producer.when.subscribed(), 5000);
    for (const d of ["x", "y", "z"]) await producer.send(d);
    const seen: string[] = [];
    for await (const d of consumer) {
      seen.push(d);
      if (seen.length === 3) await consumer.close();
    }
    assert.deepEqual(seen, ["x", "y", "z"]);
    assert.throws(() => consumer.tryRecv(), { name: "ClosedError" });
    await within(producer.when.unsubscribed(), 3000);
  } finally {
    await c.close();
  }
});
