// Each resource limit hit by a hostile dialer on real QUIC over loopback.
import assert from "node:assert/strict";
import {
  CloseCode,
  configureLogging,
  decode,
  encode,
  Endpoint,
  networkId,
  SecretKey,
} from "./mod.ts";
import { dialRaw, eventually, MOSAIK_ALPN, pinnedTls, within } from "./testing.ts";
import { parseHostPort } from "./address.ts";
import { CLOSE_BIT, FrameReader } from "./_frames.ts";

const NET = networkId("limits-test");

function frame(payload: Uint8Array, close = false): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, close ? payload.length + CLOSE_BIT : payload.length);
  out.set(payload, 4);
  return out;
}

/** Opens a raw stream on `conn` and writes `bytes` on it. */
async function rawStream(conn: Deno.QuicConn, bytes: Uint8Array) {
  const stream = await conn.createBidirectionalStream({ waitUntilAvailable: true });
  const writer = stream.writable.getWriter();
  await writer.write(bytes);
  writer.releaseLock();
  return stream;
}

/** The close code the victim answers on a raw stream with. */
async function closeCodeOf(stream: Deno.QuicBidirectionalStream): Promise<number | undefined> {
  const f = await new FrameReader(stream.readable, 1024).next();
  return f?.close ? decode<[number, string]>(f.data)[0] : undefined;
}

function victim(limits: Parameters<typeof Endpoint.create>[0]["limits"], handshakeTimeout = 5_000) {
  return Endpoint.create({ networkId: NET, limits, handshakeTimeout });
}

/** A handler that keeps every channel open until the remote finishes it. */
function hold(endpoint: Endpoint, protocol = "/hold/1") {
  endpoint.handle(protocol, async (channel) => {
    for await (const _ of channel) { /* keep it open */ }
    await channel.close();
  });
}

/** How a raw dial ends: refused outright, or the close code of the connection. */
function outcome(dial: Promise<Deno.QuicConn>): Promise<number | "refused"> {
  return dial.then((c) => within(c.closed, 3_000).then((i) => i.closeCode), () => "refused");
}

Deno.test("limits: handshakes beyond maxPendingHandshakes are refused before TLS; each has a deadline", async () => {
  await using v = await victim({ maxPendingHandshakes: 4 }, 400);
  const { hostname, port } = parseHostPort(v.hostPort);
  const dial = () =>
    Deno.connectQuic<false>({
      hostname,
      port,
      alpnProtocols: [MOSAIK_ALPN],
      ...pinnedTls(v.peerId),
    });
  const silent = await Promise.allSettled(Array.from({ length: 10 }, dial));
  const opened = silent.filter((r) => r.status === "fulfilled").map((r) => r.value);
  assert.equal(opened.length, 4);
  assert.equal(v.resources().pendingHandshakes, 4);
  assert.equal(v.resources().refused.pendingHandshakes, 6);
  // none of them answers: the deadline frees every slot
  await eventually(() => v.resources().pendingHandshakes === 0, { timeout: 3_000 });
  assert.equal(v.stats.refused.HandshakeTimeout, 4);
  await using honest = await Endpoint.create({ networkId: NET });
  await honest.connect(v.peerId, [v.hostPort]);
  for (const c of opened) c.close();
});

Deno.test("limits: connections beyond maxConnections and maxConnectionsPerPeer are closed with ResourceLimit", async () => {
  await using v = await victim({ maxConnections: 3, maxConnectionsPerPeer: 2 });
  const one = SecretKey.generate();
  const conns = [
    await dialRaw(v.peerId, v.hostPort, one, NET),
    await dialRaw(v.peerId, v.hostPort, one, NET),
  ];
  const third = await outcome(dialRaw(v.peerId, v.hostPort, one, NET));
  assert.ok(third === "refused" || third === CloseCode.ResourceLimit, `got ${third}`);
  assert.equal(v.resources().refused.connectionsPerPeer, 1);
  conns.push(await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET));
  assert.equal(v.resources().connections, 3);
  // full: a fourth key is refused, before its handshake when the count is known
  const late = await outcome(dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET));
  assert.ok(late === "refused" || late === CloseCode.ResourceLimit, `got ${late}`);
  assert.equal(v.resources().refused.connections, 1);
  assert.equal(v.resources().connections, 3);
  for (const c of conns) c.close();
  await eventually(() => v.resources().connections === 0);
});

Deno.test("limits: a remote gets maxStreamsPerConnection channels at once, the next waits for credit", async () => {
  await using v = await victim({ maxStreamsPerConnection: 4 });
  hold(v);
  const conn = await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET);
  const header = frame(new TextEncoder().encode("/hold/1"));
  const streams = [];
  for (let i = 0; i < 4; i++) streams.push(await rawStream(conn, header));
  await eventually(() => v.resources().channels === 4);
  await assert.rejects(conn.createBidirectionalStream({ waitUntilAvailable: false }));
  // one finishes: its credit comes back
  await streams[0].writable.close();
  await within(rawStream(conn, header), 3_000, "a stream after credit returned");
  await eventually(() => v.resources().channels === 4);
  conn.close();
});

Deno.test("limits: a channel that waits for the remote's stream credit says so once", async () => {
  const warnings: string[] = [];
  configureLogging({ sink: (r) => r.level === "warn" && warnings.push(r.message) });
  try {
    await using v = await victim({ maxStreamsPerConnection: 2 });
    await using dialer = await Endpoint.create({ networkId: NET });
    hold(v);
    const connection = await dialer.connect(v.peerId, [v.hostPort]);
    const open = [await connection.open("/hold/1"), await connection.open("/hold/1")];
    const third = connection.open("/hold/1");
    const fourth = connection.open("/hold/1");
    await eventually(() => warnings.length > 0);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /2 channels are open to .*maxStreamsPerConnection/);
    await open[0].finish(); // its credit comes back
    await within(third, 3_000, "a channel once credit returned");
    await open[1].finish();
    await within(fourth, 3_000, "the next channel");
    assert.equal(warnings.length, 1);
  } finally {
    configureLogging({ sink: undefined });
  }
});

Deno.test("limits: channels beyond maxIncomingChannels are closed with ResourceLimit, over all connections", async () => {
  await using v = await victim({ maxIncomingChannels: 3 });
  hold(v);
  const header = frame(new TextEncoder().encode("/hold/1"));
  const conns = await Promise.all(
    [0, 1].map(() => dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET)),
  );
  const held = [await rawStream(conns[0], header), await rawStream(conns[1], header)];
  held.push(await rawStream(conns[0], header));
  await eventually(() => v.resources().incomingChannels === 3);
  const over = await rawStream(conns[1], header);
  assert.equal(await within(closeCodeOf(over), 3_000), CloseCode.ResourceLimit);
  assert.equal(v.resources().refused.incomingChannels, 1);
  // a channel that ends gives its slot back; a connection that ends gives all of its
  await held[0].writable.close();
  await eventually(() => v.resources().incomingChannels === 2);
  conns[1].close();
  await eventually(() => v.resources().incomingChannels === 1);
  conns[0].close();
});

Deno.test("limits: silent channel headers are capped by maxPendingHeaders and time out after headerTimeout", async () => {
  await using v = await victim({ maxPendingHeaders: 3, headerTimeout: 300 });
  const conn = await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET);
  const streams = [];
  for (let i = 0; i < 6; i++) streams.push(await rawStream(conn, new Uint8Array([0])));
  const codes = await within(Promise.all(streams.map(closeCodeOf)), 3_000, "every stream closed");
  assert.equal(codes.filter((c) => c === CloseCode.ResourceLimit).length, 3);
  assert.equal(codes.filter((c) => c === CloseCode.HandshakeTimeout).length, 3);
  const usage = v.resources();
  assert.equal(usage.pendingHeaders, 0);
  assert.equal(usage.refused.pendingHeaders, 3);
  assert.equal(usage.refused.headerTimeout, 3);
  conn.close();
});

Deno.test("limits: with openerSpeaksFirst a channel is opening until its first frame arrives", async () => {
  await using v = await victim({ maxPendingHeaders: 3, headerTimeout: 300 });
  let served = 0;
  v.handle("/first/1", async (channel) => {
    served++;
    await channel.send(await channel.recv());
    await channel.close();
  }, { openerSpeaksFirst: true });
  const conn = await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET);
  const header = frame(new TextEncoder().encode("/first/1"));
  const silent = [];
  for (let i = 0; i < 5; i++) silent.push(await rawStream(conn, header));
  const codes = await within(Promise.all(silent.map(closeCodeOf)), 3_000, "silent ones closed");
  assert.equal(codes.filter((c) => c === CloseCode.ResourceLimit).length, 2);
  assert.equal(codes.filter((c) => c === CloseCode.HandshakeTimeout).length, 3);
  assert.equal(served, 0, "a silent channel reached its handler");
  // one that speaks is served, in whatever pieces its first frame comes
  const message = encode("hi");
  const speaking = await rawStream(conn, header);
  const first = frame(message);
  await speaking.writable.getWriter().write(first);
  const reply = await within(new FrameReader(speaking.readable, 1024).next(), 3_000);
  assert.deepEqual(reply?.data, message);
  assert.equal(served, 1);
  assert.equal(v.resources().pendingHeaders, 0);
  conn.close();
});

Deno.test("a close frame sent as a channel header ends that stream at once (its credit returns)", async () => {
  await using v = await victim({ maxStreamsPerConnection: 2 });
  const conn = await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET);
  const closeHeader = frame(encode([CloseCode.Success, ""]), true);
  for (let i = 0; i < 10; i++) {
    const stream = await within(rawStream(conn, closeHeader), 3_000, `stream ${i}`);
    // the victim ends its side without a word, and stops reading ours
    assert.equal(await within(closeCodeOf(stream), 3_000), undefined);
    await stream.writable.close().catch(() => {});
  }
  assert.equal(v.resources().channels, 0);
  assert.equal(v.resources().pendingHeaders, 0);
  conn.close();
});

Deno.test("limits: large frames in assembly are capped by maxPartialFrameBytes; small ones pass", async () => {
  await using v = await victim({ maxPartialFrameBytes: 1 << 20 });
  const sizes: number[] = [];
  v.handle("/recv/1", async (channel) => {
    for await (const m of channel) sizes.push((m as Uint8Array).length);
  });
  const conn = await dialRaw(v.peerId, v.hostPort, SecretKey.generate(), NET);
  const header = frame(new TextEncoder().encode("/recv/1"));
  // a 768 KiB frame of which 100 KiB arrive: it holds its room while the rest does not come
  const stalled = await rawStream(conn, header);
  const writer = stalled.writable.getWriter();
  const big = encode(new Uint8Array(768 << 10));
  await writer.write(frame(big).subarray(0, 100 << 10));
  await eventually(() => v.resources().partialFrameBytes === big.length);
  // a second one does not fit beside it
  const refused = await rawStream(conn, concat(header, frame(big)));
  assert.equal(await within(closeCodeOf(refused), 3_000), CloseCode.ResourceLimit);
  assert.equal(v.resources().refused.partialFrameBytes, 1);
  // small frames need no room
  const small = encode(new Uint8Array(1000));
  await rawStream(conn, concat(header, frame(small)));
  await eventually(() => sizes.includes(1000));
  // the stalled one completes and gives its room back
  await writer.write(frame(big).subarray(100 << 10));
  await eventually(() => sizes.includes(768 << 10));
  assert.equal(v.resources().partialFrameBytes, 0);
  conn.close();
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("limits: a dialer refused at maxPendingHandshakes tries again with backoff and gets in once a slot frees", async () => {
  await using v = await victim({ maxPendingHandshakes: 4 }, 400);
  const { hostname, port } = parseHostPort(v.hostPort);
  const silent = await Promise.all(Array.from({ length: 4 }, () =>
    Deno.connectQuic<false>({
      hostname,
      port,
      alpnProtocols: [MOSAIK_ALPN],
      ...pinnedTls(v.peerId),
    })));
  assert.equal(v.resources().pendingHandshakes, 4);
  await using honest = await Endpoint.create({ networkId: NET });
  // Refused while the silent ones hold every slot; their 400 ms deadline frees them.
  const conn = await within(honest.connect(v.peerId, [v.hostPort]), 3_000);
  assert.ok(v.resources().refused.pendingHandshakes >= 1);
  assert.equal(conn.peerId, v.peerId);
  for (const c of silent) c.close();
});
