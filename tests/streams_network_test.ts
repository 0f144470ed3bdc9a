// Streams on full Network nodes: the one-page API tour, and a producer node
// that restarts under the same identity (the consumer resumes and reports the gap).
import assert from "node:assert/strict";
import { SecretKey } from "@mosaik/transport";
import { within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";

const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;

Deno.test("streams on Network: the one-page API tour runs as written", async () => {
  const name = crypto.randomUUID();
  await using a = await Network.create(name, local);
  await using b = await Network.create(name, { ...local, bootstrap: [a.local.address] });
  await within(b.discovery.when.peers({ minimum: 1 }), 10_000);
  const Prices = stream<{ sym: string; px: number }>("prices");
  const producer = a.streams.produce(Prices, { maxConsumers: 8 });
  const consumer = b.streams.consume(Prices);
  await within(producer.when.subscribed({ minimum: 1 }), 10_000);
  await producer.send({ sym: "ETH", px: 3000 });
  assert.deepEqual(await within(consumer.recv(), 5000), { sym: "ETH", px: 3000 });
  assert.ok(b.discovery.catalog.get(a.local.id)?.streams.includes(Prices.id));
  await consumer.close();
});

Deno.test("streams on Network: a producer node restarts with the same key; the consumer resumes and counts the gap", async () => {
  const name = crypto.randomUUID();
  const key = SecretKey.generate();
  const Ticks = stream<number>("ticks");
  await using c = await Network.create(name, local);
  let p = await Network.create(name, { ...local, secretKey: key, bootstrap: [c.local.address] });
  try {
    const consumer = c.streams.consume(Ticks);
    const first = p.streams.produce(Ticks);
    await within(consumer.when.subscribed(), 10_000);
    for (let i = 0; i < 10; i++) await first.send(i);
    for (let i = 0; i < 10; i++) assert.equal(await within(consumer.recv(), 5000), i);
    await p.close(); // graceful: the producer flushes, ends the stream, departs
    await within(consumer.when.unsubscribed(), 5000);

    p = await Network.create(name, { ...local, secretKey: key, bootstrap: [c.local.address] });
    assert.equal(p.local.id, key.peerId);
    const second = p.streams.produce(Ticks, { onlineWhen: { minimum: 0 } });
    for (let i = 0; i < 4; i++) second.trySend(100 + i); // nobody listens yet
    await within(consumer.when.subscribed(), 10_000, "resubscribed to the restarted node");
    await within(second.when.subscribed(), 5000);
    await second.send(200);
    assert.equal(await within(consumer.recv(), 5000), 200);
    assert.equal(consumer.stats.gaps, 1);
    assert.equal(consumer.stats.missed, 4);
    assert.equal(consumer.producers()[0].producerId, key.peerId);
  } finally {
    await p.close();
  }
});
