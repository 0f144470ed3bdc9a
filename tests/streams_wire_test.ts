// Streams against misbehaving peers (raw endpoints speaking the wire protocol
// by hand): bad frames end that one subscription with the right close code,
// never the node. Also: unknown peers, and latency-ranked producer choice.
import assert from "node:assert/strict";
import {
  type Channel,
  ChannelClosedError,
  CloseCode,
  digestBytes,
  encode,
  type NetworkId,
  networkId,
} from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { codecs, PROTOCOL, StaticDiscovery, stream } from "@mosaik/streams";
import { decodeDataFrame } from "../streams/_wire.ts";
import { closeAll } from "./_harness.ts";
import { type StaticNode, staticNode } from "./streams_harness.ts";

const Data = stream<string>("tests.wire.data");

/** A node with streams (`true`) or a raw endpoint speaking the wire protocol by hand. */
function peer(net: NetworkId, withStreams: boolean, maxFrameSize?: number): Promise<StaticNode> {
  return staticNode(net, {
    streams: withStreams ? { backoff: { initial: 50 } } : false,
    maxFrameSize,
  });
}

function batch(seq: number, datums: Uint8Array[]): Uint8Array {
  const size = 13 + datums.reduce((n, d) => n + 8 + d.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 1;
  view.setUint32(1, datums.length);
  view.setFloat64(5, seq);
  let at = 13;
  datums.forEach((d, i) => {
    view.setUint32(at, i === 0 ? 0 : 1);
    view.setUint32(at + 4, d.length);
    out.set(d, at + 8);
    at += 8 + d.length;
  });
  return out;
}

/**
 * A rogue producer: answers the handshake with `start` (or `startOverride`),
 * then sends `frames`, and reports the close code the consumer ended with.
 */
function rogueProducer(
  rogue: StaticNode,
  frames: Uint8Array[],
  startOverride: Partial<{ network: Uint8Array; stream: Uint8Array }> = {},
): Promise<number> {
  rogue.discovery.local.addStream(Data.id);
  return new Promise((resolve) => {
    rogue.endpoint.handle(PROTOCOL, async (channel: Channel) => {
      const hello = await channel.recv<{ t: string; network: Uint8Array; stream: Uint8Array }>();
      await channel.send({
        t: "start",
        network: startOverride.network ?? hello!.network,
        stream: startOverride.stream ?? hello!.stream,
        epoch: 1,
        seq: 0,
      });
      for (const f of frames) await channel.sendBytes(f);
      try {
        while ((await channel.recv()) !== undefined) { /* nothing expected */ }
        resolve(-1);
      } catch (e) {
        resolve(e instanceof ChannelClosedError ? e.code : -2);
      }
    });
  });
}

async function rogueCase(
  frames: Uint8Array[],
  expected: number,
  options: { start?: Partial<{ network: Uint8Array; stream: Uint8Array }>; maxFrameSize?: number } =
    {},
): Promise<void> {
  const net = networkId(crypto.randomUUID());
  const consumerNode = await peer(net, true, options.maxFrameSize);
  const good = await peer(net, true);
  const rogue = await peer(net, false);
  StaticDiscovery.link(consumerNode.discovery, good.discovery, rogue.discovery);
  try {
    const code = rogueProducer(rogue, frames, options.start);
    const consumer = consumerNode.streams!.consume(Data);
    assert.equal(await within(code, 5000, "rogue sees the close"), expected);
    // the node and its other subscriptions are fine
    const producer = good.streams!.produce(Data);
    await within(producer.when.subscribed(), 5000);
    await producer.send("still alive");
    assert.equal(await within(consumer.recv(), 3000), "still alive");
    await eventually(() =>
      consumer.producers().length === 1 &&
      consumer.producers()[0].producerId === good.endpoint.peerId
    );
  } finally {
    await closeAll([consumerNode, good, rogue]);
  }
}

Deno.test("streams wire: an undecodable datum ends the subscription with ProtocolViolation", async () => {
  await rogueCase([batch(0, [new Uint8Array([0xc1])])], CloseCode.ProtocolViolation);
});

Deno.test("streams wire: a malformed batch frame ends the subscription with ProtocolViolation", async () => {
  const bad = batch(0, [encode("x")]);
  new DataView(bad.buffer).setUint32(1, 1000); // count larger than the frame holds
  await rogueCase([bad], CloseCode.ProtocolViolation);
  await rogueCase([new Uint8Array([9, 9, 9])], CloseCode.ProtocolViolation);
});

Deno.test("streams wire: a wrong stream id in start ends it with StreamNotFound", async () => {
  await rogueCase([], CloseCode.StreamNotFound, {
    start: { stream: digestBytes(stream("other").id) },
  });
});

Deno.test("streams wire: a wrong network id in start ends it with DifferentNetwork", async () => {
  await rogueCase([], CloseCode.DifferentNetwork, {
    start: { network: digestBytes(networkId("elsewhere")) },
  });
});

Deno.test("streams wire: an oversize frame ends the subscription with ProtocolViolation", async () => {
  const big = batch(0, [encode("x".repeat(200_000))]);
  await rogueCase([big], CloseCode.ProtocolViolation, { maxFrameSize: 64 * 1024 });
});

/** A rogue consumer: opens a streams channel to `target`, sends `hello`, returns the close code. */
async function rogueConsumer(
  rogue: StaticNode,
  target: StaticNode,
  hello: unknown,
): Promise<number> {
  const channel = await rogue.endpoint.open(
    target.endpoint.peerId,
    [target.endpoint.hostPort],
    PROTOCOL,
  );
  if (hello instanceof Uint8Array) await channel.sendBytes(hello);
  else await channel.send(hello);
  try {
    for (;;) {
      const m = await channel.recv();
      if (m === undefined) return -1;
    }
  } catch (e) {
    return e instanceof ChannelClosedError ? e.code : -2;
  } finally {
    await channel.close();
  }
}

Deno.test("streams wire: producers refuse bad handshakes with named codes and keep serving", async () => {
  const net = networkId(crypto.randomUUID());
  const producerNode = await peer(net, true);
  const good = await peer(net, true);
  const rogue = await peer(net, false);
  const stranger = await peer(net, false);
  StaticDiscovery.link(producerNode.discovery, good.discovery, rogue.discovery);
  try {
    const producer = producerNode.streams!.produce(Data);
    const subscribe = (over: Record<string, unknown> = {}) => ({
      t: "subscribe",
      network: digestBytes(net),
      stream: digestBytes(Data.id),
      criteria: {},
      ...over,
    });
    assert.equal(
      await rogueConsumer(rogue, producerNode, new Uint8Array([0xc1])),
      CloseCode.ProtocolViolation,
    );
    assert.equal(
      await rogueConsumer(rogue, producerNode, { t: "nonsense" }),
      CloseCode.ProtocolViolation,
    );
    assert.equal(
      await rogueConsumer(rogue, producerNode, subscribe({ stream: new Uint8Array(5) })),
      CloseCode.ProtocolViolation,
    );
    assert.equal(
      await rogueConsumer(
        rogue,
        producerNode,
        subscribe({ stream: digestBytes(stream("nope").id) }),
      ),
      CloseCode.StreamNotFound,
    );
    assert.equal(
      await rogueConsumer(rogue, producerNode, subscribe({ network: digestBytes(networkId("x")) })),
      CloseCode.DifferentNetwork,
    );
    assert.equal(await rogueConsumer(stranger, producerNode, subscribe()), CloseCode.UnknownPeer);
    assert.equal(producer.consumers().length, 0);
    const consumer = good.streams!.consume(Data);
    await within(producer.when.subscribed(), 5000);
    await producer.send("served");
    assert.equal(await within(consumer.recv(), 3000), "served");
  } finally {
    await closeAll([producerNode, good, rogue, stranger]);
  }
});

Deno.test("streams wire: queued datums go out in full batch frames", async () => {
  const net = networkId(crypto.randomUUID());
  const producerNode = await peer(net, true);
  const reader = await peer(net, false);
  StaticDiscovery.link(producerNode.discovery, reader.discovery);
  const Bytes = stream("tests.wire.bytes", { codec: codecs.bytes });
  try {
    const producer = producerNode.streams!.produce(Bytes, { bufferSize: 1000 });
    const channel = await reader.endpoint.open(
      producerNode.endpoint.peerId,
      [producerNode.endpoint.hostPort],
      PROTOCOL,
    );
    await channel.send({
      t: "subscribe",
      network: digestBytes(net),
      stream: digestBytes(Bytes.id),
      criteria: {},
    });
    assert.equal((await within(channel.recv<{ t: string }>(), 5000))!.t, "start");
    await within(producer.when.subscribed(), 5000);
    // 63 datums of 1 KiB (with their item headers) fill a 64 KiB batch; a
    // 64th would not fit, and must not go out as a frame of its own either
    for (let i = 0; i < 630; i++) producer.trySend(new Uint8Array(1024).fill(i));
    const counts = [];
    for (let n = 0; n < 630;) {
      const frame = decodeDataFrame((await within(channel.recvBytes(), 5000))!);
      assert(frame.kind === "batch");
      assert.deepEqual(frame.datas[0], new Uint8Array(1024).fill(frame.seqs[0]));
      counts.push(frame.seqs.length);
      n += frame.seqs.length;
    }
    assert.deepEqual(counts, new Array(10).fill(63));
    await channel.close();
  } finally {
    await closeAll([producerNode, reader]);
  }
});

Deno.test("streams wire: an unknown consumer is refused until the producer learns its entry", async () => {
  const net = networkId(crypto.randomUUID());
  const a = await peer(net, true);
  const b = await peer(net, true);
  try {
    const producer = a.streams!.produce(Data);
    b.discovery.put(a.discovery.local.entry); // b knows a; a does not know b
    const consumer = b.streams!.consume(Data);
    await eventually(() => consumer.producers()[0]?.state === "connecting");
    assert.equal(producer.consumers().length, 0);
    a.discovery.put(b.discovery.local.entry);
    await within(consumer.when.subscribed(), 5000, "subscribed after the producer learned of it");
    await producer.send("hi");
    assert.equal(await within(consumer.recv(), 3000), "hi");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("streams: prefer latency with limit picks the k fastest and fails over", async () => {
  const net = networkId(crypto.randomUUID());
  const c = await peer(net, true);
  const ps = [await peer(net, true), await peer(net, true), await peer(net, true)];
  StaticDiscovery.link(c.discovery, ...ps.map((p) => p.discovery));
  try {
    const [slow, fast, mid] = ps;
    c.discovery.setRtt(slow.endpoint.peerId, 50);
    c.discovery.setRtt(fast.endpoint.peerId, 1);
    c.discovery.setRtt(mid.endpoint.peerId, 10);
    const producers = ps.map((p) => p.streams!.produce(Data));
    const consumer = c.streams!.consume(Data, { prefer: "latency", limit: 2 });
    await within(consumer.when.subscribed({ minimum: 2 }), 5000);
    const chosen = () => consumer.producers().map((p) => p.producerId).sort();
    assert.deepEqual(chosen(), [fast.endpoint.peerId, mid.endpoint.peerId].sort());
    await producers[1].close(); // the fastest goes away
    await eventually(
      () => chosen().join() === [slow.endpoint.peerId, mid.endpoint.peerId].sort().join(),
      {
        timeout: 5000,
      },
    );
    await within(consumer.when.subscribed({ minimum: 2 }), 5000);
    await producers[0].send("from slow");
    assert.equal(await within(consumer.recv(), 3000), "from slow");
  } finally {
    await closeAll([c, ...ps]);
  }
});

Deno.test("streams: bytes and text codecs carry datums unchanged", async () => {
  const net = networkId(crypto.randomUUID());
  const a = await peer(net, true);
  const b = await peer(net, true);
  StaticDiscovery.link(a.discovery, b.discovery);
  try {
    const Raw = stream("tests.raw", { codec: codecs.bytes });
    const Text = stream("tests.text", { codec: codecs.text });
    const pr = a.streams!.produce(Raw);
    const pt = a.streams!.produce(Text);
    const cr = b.streams!.consume(Raw);
    const ct = b.streams!.consume(Text);
    await within(pr.when.subscribed(), 3000);
    await within(pt.when.subscribed(), 3000);
    await pr.send(new Uint8Array([1, 2, 3]));
    await pt.send("héllo");
    assert.deepEqual(await within(cr.recv(), 3000), new Uint8Array([1, 2, 3]));
    assert.equal(await within(ct.recv(), 3000), "héllo");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("streams: a predicate that throws counts as failed and harms nothing", async () => {
  const net = networkId(crypto.randomUUID());
  const a = await peer(net, true);
  const b = await peer(net, true);
  StaticDiscovery.link(a.discovery, b.discovery);
  try {
    const boom = () => {
      throw new Error("boom");
    };
    const producer = a.streams!.produce(Data, { require: boom });
    const consumer = b.streams!.consume(Data, { onlineWhen: { where: boom } });
    await eventually(() => producer.stats.rejected >= 1, { timeout: 5000 });
    assert.equal(producer.consumers().length, 0);
    assert.ok(!consumer.online);
    const picky = b.streams!.consume(stream<string>("tests.wire.other"), { require: boom });
    a.streams!.produce(stream<string>("tests.wire.other"));
    await eventually(() => b.streams!.rtt(a.endpoint.peerId) !== undefined);
    assert.equal(picky.producers().length, 0);
  } finally {
    await closeAll([a, b]);
  }
});
