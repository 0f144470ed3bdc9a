import assert from "node:assert/strict";
import { CloseCode, ConnectError, Endpoint, networkId, SecretKey } from "./mod.ts";
import {
  certificateFor,
  eventually,
  MOSAIK_ALPN,
  pinnedTls,
  quietPeriod,
  within,
} from "./testing.ts";
import { parseHostPort } from "./address.ts";
import { decode, encode } from "./codec.ts";
import { digestBytes } from "./ids.ts";
import { dialerProof, EARLY_STREAMS, PROOF_WINDOW_MS, proveIdentity } from "./_handshake.ts";
import { FrameReader, FrameWriter } from "./_frames.ts";

const NET = networkId("handshake-test");

/** Dials `acceptor` raw and sends `proof` as the first frame: the verdict's close code, or "ok". */
async function present(acceptor: Endpoint, proof: Uint8Array): Promise<number | "ok"> {
  const conn = await Deno.connectQuic<false>({
    ...parseHostPort(acceptor.hostPort),
    alpnProtocols: [MOSAIK_ALPN],
    ...pinnedTls(acceptor.peerId),
  });
  try {
    await within((await proveIdentity(conn, proof)).verdict, 5_000);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return e.closeCode ?? -1;
  } finally {
    conn.close();
  }
}

Deno.test("handshake: a captured proof replayed on a second connection is refused", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  const dialer = SecretKey.generate();
  const proof = await dialerProof(dialer, NET, a.peerId);
  assert.equal(await present(a, proof), "ok");
  assert.equal(await present(a, proof), CloseCode.InvalidProof);
  // a fresh proof of the same dialer is fine
  assert.equal(await present(a, await dialerProof(dialer, NET, a.peerId)), "ok");
  assert.equal(a.stats.refused.InvalidProof, 1);
});

Deno.test("handshake: forged proofs and proofs naming another acceptor are refused", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  const victim = SecretKey.generate();
  const other = SecretKey.generate().peerId;
  const forged = await dialerProof(SecretKey.generate(), NET, a.peerId);
  forged.set(victim.publicKey, forged.indexOf(0xc4) + 2); // the key field, bin8 of 32 bytes
  assert.equal(await present(a, forged), CloseCode.InvalidProof);
  assert.equal(await present(a, await dialerProof(victim, NET, other)), CloseCode.InvalidProof);
  const otherNet = await dialerProof(victim, networkId("elsewhere"), a.peerId);
  assert.equal(await present(a, otherNet), CloseCode.DifferentNetwork);
  assert.equal(a.stats.refused.InvalidProof, 2);
  assert.equal(a.stats.refused.DifferentNetwork, 1);
});

Deno.test("handshake: a timestamp outside the window is refused with ClockSkew, saying so", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  const key = SecretKey.generate();
  for (const [off, way] of [[2 * PROOF_WINDOW_MS, "ahead of"], [-2 * PROOF_WINDOW_MS, "behind"]]) {
    const conn = await Deno.connectQuic<false>({
      ...parseHostPort(a.hostPort),
      alpnProtocols: [MOSAIK_ALPN],
      ...pinnedTls(a.peerId),
    });
    const proof = await dialerProof(key, NET, a.peerId, Date.now() + Number(off));
    const { verdict } = await proveIdentity(conn, proof);
    await assert.rejects(within(verdict, 5_000), (e) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.closeCode, CloseCode.ClockSkew);
      assert.match(e.message, new RegExp(`clocks differ: the dialer's is 120 s ${way}`));
      return true;
    });
    conn.close();
  }
  assert.equal(a.stats.refused.ClockSkew, 2);
  // inside the window, a minute off, is accepted
  const near = await dialerProof(key, NET, a.peerId, Date.now() - PROOF_WINDOW_MS + 5_000);
  assert.equal(await present(a, near), "ok");
});

Deno.test("handshake: a proof by a small-order key is refused with InvalidProof", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  const identity = new Uint8Array(32);
  identity[0] = 1; // the identity point: R = identity, S = 0 "verifies" any message
  const signature = new Uint8Array(64);
  signature[0] = 1;
  const nonce = new Uint8Array(16);
  const proof = encode([identity, digestBytes(NET), Date.now(), nonce, signature]);
  assert.equal(await present(a, proof), CloseCode.InvalidProof);
  assert.equal(a.connectedPeers().length, 0);
});

Deno.test("handshake: channels a dialer opens before its proof arrives are routed only after it checks out", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  const served: string[] = [];
  a.handle("/early/1", async (channel) => {
    served.push(channel.peerId);
    await channel.send(await channel.recv());
    await channel.close();
  });
  const dialer = SecretKey.generate();
  const conn = await Deno.connectQuic<false>({
    ...parseHostPort(a.hostPort),
    alpnProtocols: [MOSAIK_ALPN],
    ...pinnedTls(a.peerId),
  });
  try {
    const proof = await dialerProof(dialer, NET, a.peerId);
    const framed = new Uint8Array(4 + proof.length);
    new DataView(framed.buffer).setUint32(0, proof.length);
    framed.set(proof, 4);
    // the proof stream opens first but its frame is held back after 3 bytes
    const first = await conn.createBidirectionalStream();
    const proofWriter = first.writable.getWriter();
    await proofWriter.write(framed.subarray(0, 3));
    const early = await conn.createBidirectionalStream();
    const writer = new FrameWriter(early.writable, 1024);
    await writer.write(new TextEncoder().encode("/early/1"));
    await writer.write(encode("before the proof"));
    await writer.drain();
    await quietPeriod(200);
    assert.deepEqual(served, [], "routed before the proof");
    assert.equal(a.resources().channels, 0);
    await proofWriter.write(framed.subarray(3));
    await eventually(() => served.length === 1);
    assert.deepEqual(served, [dialer.peerId]);
    const reply = await new FrameReader(early.readable, 1024).next();
    assert.equal(decode(reply!.data), "before the proof");
  } finally {
    conn.close();
  }
});

Deno.test("handshake: a dialer opening more than EARLY_STREAMS channels before its proof is refused; an endpoint waits for the verdict instead", async () => {
  await using a = await Endpoint.create({ networkId: NET });
  a.handle("/echo/1", async (channel) => {
    for await (const m of channel) await channel.send(m);
    await channel.close();
  });
  const conn = await Deno.connectQuic<false>({
    ...parseHostPort(a.hostPort),
    alpnProtocols: [MOSAIK_ALPN],
    ...pinnedTls(a.peerId),
  });
  const proof = await conn.createBidirectionalStream();
  await proof.writable.getWriter().write(new Uint8Array([0, 0])); // half a header: no proof yet
  for (let i = 0; i <= EARLY_STREAMS; i++) {
    const stream = await conn.createBidirectionalStream();
    await new FrameWriter(stream.writable, 1024).write(new TextEncoder().encode("/echo/1"));
  }
  const info = await within(conn.closed, 5_000);
  assert.equal(info.closeCode, CloseCode.ProtocolViolation);
  assert.match(info.reason, /streams before the dialer's proof/);
  // an endpoint opens as many as it likes at once: those beyond wait for the
  // verdict (the first rides on the proof's stream, so it is not among them)
  await using b = await Endpoint.create({ networkId: NET });
  const connection = await b.connect(a.peerId, [a.hostPort]);
  let verdict = false;
  connection.accepted.then(() => verdict = true);
  const opened = await Promise.all(Array.from({ length: 3 * EARLY_STREAMS }, async (_, i) => {
    const channel = await connection.open("/echo/1");
    const after = verdict;
    await channel.send(i);
    assert.equal(await channel.recv(), i);
    await channel.close();
    return after;
  }));
  assert.ok(opened.slice(EARLY_STREAMS + 1).every((after) => after), "opened before the verdict");
  assert.equal(a.stats.refused.ProtocolViolation, 1);
});

Deno.test("handshake: an acceptor that never answers the proof fails the dialer's first channel with HandshakeTimeout", async () => {
  const key = SecretKey.generate();
  const quic = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = quic.listen({ ...certificateFor(key), alpnProtocols: [MOSAIK_ALPN] });
  const held: Deno.QuicConn[] = [];
  const accepting = (async () => {
    for await (const incoming of listener) held.push(await incoming.accept());
  })();
  try {
    await using b = await Endpoint.create({ networkId: NET, handshakeTimeout: 300 });
    const connection = await b.connect(key.peerId, [`127.0.0.1:${quic.addr.port}`]);
    const channel = await connection.open("/echo/1");
    await channel.send("anyone?");
    const timedOut = (e: unknown) =>
      e instanceof ConnectError && e.closeCode === CloseCode.HandshakeTimeout;
    await assert.rejects(within(channel.recv(), 5_000), timedOut);
    await assert.rejects(connection.accepted, timedOut);
    assert.equal((await within(connection.closed, 5_000)).code, CloseCode.HandshakeTimeout);
  } finally {
    for (const c of held) c.close();
    listener.stop();
    quic.close();
    await accepting.catch(() => {});
  }
});

/**
 * A raw acceptor for `key`: hands `serve` the first stream of the first
 * connection, read and written as frames.
 */
function rawAcceptor(
  key: SecretKey,
  serve: (reader: FrameReader, writer: FrameWriter) => Promise<void>,
): { address: string; served: Promise<void>; close(): void } {
  const quic = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = quic.listen({ ...certificateFor(key), alpnProtocols: [MOSAIK_ALPN] });
  let conn: Deno.QuicConn | undefined;
  const served = (async () => {
    conn = await (await listener.incoming()).accept();
    const { value: stream } = await conn.incomingBidirectionalStreams.getReader().read();
    await serve(new FrameReader(stream!.readable, 1024), new FrameWriter(stream!.writable, 1024));
  })();
  return {
    address: `127.0.0.1:${quic.addr.port}`,
    served,
    close() {
      conn?.close();
      listener.stop();
      quic.close();
    },
  };
}

Deno.test("handshake: the first channel rides on the proof's stream, after the acceptor's ok", async () => {
  const key = SecretKey.generate();
  const seen: unknown[] = [];
  const acceptor = rawAcceptor(key, async (reader, writer) => {
    const proof = decode<unknown[]>((await reader.next())!.data);
    seen.push(proof.length);
    await writer.write(encode("ok"));
    seen.push(new TextDecoder().decode((await reader.next())!.data)); // the channel's header
    seen.push(decode((await reader.next())!.data));
    await writer.write(encode("answer"));
    await writer.drain();
  });
  try {
    await using b = await Endpoint.create({ networkId: NET });
    const connection = await b.connect(key.peerId, [acceptor.address]);
    const channel = await connection.open("/first/1");
    await channel.send("question");
    assert.equal(await within(channel.recv(), 5_000), "answer");
    await within(connection.accepted, 5_000);
    await within(acceptor.served, 5_000);
    assert.deepEqual(seen, [5, "/first/1", "question"]);
  } finally {
    acceptor.close();
  }
});

Deno.test("handshake: a dialer that opens no channel before the verdict finishes the proof's stream", async () => {
  const key = SecretKey.generate();
  let ended = false;
  const acceptor = rawAcceptor(key, async (reader, writer) => {
    await reader.next(); // the proof
    await writer.write(encode("ok"));
    ended = (await reader.next()) === undefined;
  });
  try {
    await using b = await Endpoint.create({ networkId: NET });
    const connection = await b.connect(key.peerId, [acceptor.address]);
    await within(connection.accepted, 5_000);
    await within(acceptor.served, 5_000);
    assert.ok(ended, "the stream ended after the proof");
  } finally {
    acceptor.close();
  }
});
