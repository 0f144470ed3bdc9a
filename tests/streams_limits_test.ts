// Streams acceptance, part 2: consumer limits, onlineWhen, `when`, offline
// sends, slot release on consumer close.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { ProducerOfflineError, stream } from "@mosaik/streams";
import { cluster } from "./streams_harness.ts";

const Data1 = stream<string>("tests.limits.data1");
const Data2 = stream<string>("tests.limits.data2");

/** Whether `p` has settled after pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

const connected = (infos: { state: string; consumerId: string }[]) =>
  new Set(infos.filter((i) => i.state === "connected").map((i) => i.consumerId));

Deno.test("streams: maxConsumers 3 serves three of seven consumers; a freed slot goes to a waiting one", async () => {
  const c = await cluster(8);
  try {
    const [n0, ...others] = c.nodes;
    const p = n0.streams.produce(Data1, { maxConsumers: 3 });
    const consumers = new Map(others.map((n) => [n.id, n.streams.consume(Data1)]));
    for (const consumer of consumers.values()) await within(consumer.when.online(), 10_000);
    await within(p.when.subscribed({ minimum: 3 }), 10_000, "three subscribers");
    // every one of the other four was turned away at least once
    await eventually(() => p.stats.rejected >= 4, { timeout: 10_000 });
    assert.equal(p.consumers().length, 3);
    const before = connected(p.consumers());
    const refused: string[] = others.map((n) => n.id).filter((id) => !before.has(id));
    assert.equal(refused.length, 4);
    assert.ok(await settled(p.when.subscribed({ minimum: 3 })));
    assert.ok(!(await settled(p.when.unsubscribed({ minimum: 3 }))));
    const leaving = [...before][0];
    // Wait from before the close: a waiting consumer may take the slot again
    // before close() returns, and then "fewer than three" never holds again.
    const freed = p.when.unsubscribed({ minimum: 3 });
    await c.nodes.find((n) => n.id === leaving)!.close();
    await within(freed, 10_000, "a slot freed");
    await within(p.when.subscribed({ minimum: 3 }), 10_000, "slot taken again");
    const after = connected(p.consumers());
    assert.equal(after.size, 3);
    assert.equal([...after].filter((id) => before.has(id)).length, 2);
    assert.equal([...after].filter((id) => refused.includes(id)).length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("streams: maxConsumers 1 serves exactly one; closing it frees the slot", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const p = n0.streams.produce(Data1, { maxConsumers: 1 });
    const c1 = n1.streams.consume(Data1);
    await within(c1.when.subscribed(), 10_000);
    const c2 = n2.streams.consume(Data1);
    await eventually(() => p.stats.rejected >= 1, { timeout: 10_000 });
    assert.equal(p.consumers().length, 1);
    assert.equal(p.consumers()[0].consumerId, n1.id);
    await p.send("only one");
    assert.equal(await within(c1.recv(), 10_000), "only one");
    assert.equal(c2.tryRecv(), undefined);
    await c1.close();
    await within(c2.when.subscribed(), 10_000, "c2 takes the freed slot");
    assert.deepEqual(p.consumers().map((s) => s.consumerId), [n2.id]);
    await p.send("now two");
    assert.equal(await within(c2.recv(), 10_000), "now two");
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer onlineWhen follows the count and tags of connected consumers", async () => {
  const c = await cluster(3, { tags: [[], [], []] });
  try {
    const [n0, n1, n2] = c.nodes;
    const p01 = n0.streams.produce(Data1, { onlineWhen: { minimum: 2 } });
    const p02 = n0.streams.produce(Data2);
    const p11 = n1.streams.produce(Data1, { onlineWhen: { minimum: 2, tags: ["tag2"] } });
    const c21 = n2.streams.consume(Data1);
    const c22 = n2.streams.consume(Data2);
    await within(c21.when.subscribed({ minimum: 2 }), 10_000);
    await within(c22.when.subscribed(), 10_000);
    await within(p01.when.subscribed(), 10_000);
    await within(p01.when.offline(), 10_000);
    assert.ok(!p01.online);
    await within(p02.when.subscribed(), 10_000);
    await within(p02.when.online(), 10_000);
    assert.ok(p02.online);
    await within(p11.when.subscribed(), 10_000);
    assert.ok(!p11.online);

    const n3 = await c.add();
    const c31 = n3.streams.consume(Data1);
    await within(c31.when.subscribed({ minimum: 2 }), 10_000);
    await within(p01.when.subscribed({ minimum: 2 }), 10_000);
    await within(p01.when.online(), 10_000);
    await within(p11.when.subscribed({ minimum: 2 }), 10_000);
    assert.ok(!p11.online, "untagged consumers do not count");

    const n4 = await c.add({ tags: ["tag2"] });
    const c41 = n4.streams.consume(Data1);
    await within(c41.when.subscribed({ minimum: 2 }), 10_000);
    await within(p11.when.subscribed({ minimum: 3 }), 10_000);
    assert.ok(!p11.online, "one tagged consumer is not two");

    const n5 = await c.add({ tags: ["tag2"] });
    n5.streams.consume(Data1);
    await within(p11.when.subscribed({ minimum: 4 }), 10_000);
    await within(p11.when.online(), 10_000);
    assert.ok(p11.online);
    await n5.close();
    await within(p11.when.offline(), 10_000);
    assert.ok(!p11.online);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer when.* promises resolve on every transition", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const p1 = n1.streams.produce(Data1);
    const cond1 = () => p1.when.subscribed();
    const cond2 = () => p1.when.subscribed({ minimum: 2 });
    const cond3 = () => p1.when.subscribed({ minimum: 2, unmet: true });
    const cond4 = () => p1.when.unsubscribed();
    assert.ok(!(await settled(cond1())));
    assert.ok(!(await settled(cond2())));
    assert.ok(await settled(cond3()));
    assert.ok(await settled(cond4()));
    n0.streams.consume(Data1);
    await within(cond1(), 10_000);
    assert.ok(!(await settled(cond2())));
    assert.ok(await settled(cond3()));
    const waiting = cond2();
    n2.streams.consume(Data1);
    await within(waiting, 10_000);
    assert.ok(await settled(cond1()));
    assert.ok(!(await settled(cond3())));
    assert.ok(!(await settled(cond4())));
    await n2.close();
    await within(cond3(), 10_000);
    assert.ok(!(await settled(cond2())));
    const n3 = await c.add();
    n3.streams.consume(Data1);
    await within(cond2(), 10_000);
    assert.ok(!(await settled(cond3())));
  } finally {
    await c.close();
  }
});

Deno.test("streams: send waits while offline; trySend hands the datum back", async () => {
  const c = await cluster(1);
  try {
    const [n0] = c.nodes;
    const p = n0.streams.produce(Data1);
    assert.ok(!p.online);
    const pending = p.send("test1");
    assert.ok(!(await settled(pending)), "send blocks while offline");
    assert.throws(
      () => p.trySend("test"),
      (e) => e instanceof ProducerOfflineError && e.datum === "test",
    );
    const n1 = await c.add();
    const c0 = n1.streams.consume(Data1);
    await within(p.when.online(), 10_000);
    await within(c0.when.subscribed(), 10_000);
    await within(pending, 10_000, "the waiting send goes out once online");
    assert.deepEqual(p.consumers().map((s) => s.consumerId), [n1.id]);
    assert.deepEqual(c0.producers().map((s) => s.producerId), [n0.id]);
    await within(p.send("test2"), 10_000);
    assert.equal(await within(c0.recv(), 10_000), "test1");
    assert.equal(await within(c0.recv(), 10_000), "test2");
    await c0.close();
    await within(p.when.offline(), 10_000);
    assert.ok(!p.online);
    assert.equal(p.consumers().length, 0);
    assert.throws(() => p.trySend("x"), ProducerOfflineError);
    assert.equal(await c0.recv(), undefined, "a closed consumer ends");
  } finally {
    await c.close();
  }
});
