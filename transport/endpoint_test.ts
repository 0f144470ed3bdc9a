import assert from "node:assert/strict";
import {
  ChannelClosedError,
  CloseCode,
  ClosedError,
  configureLogging,
  ConnectError,
  delay,
  Endpoint,
  type LogRecord,
  networkId,
  SecretKey,
} from "./mod.ts";
import { eventually, within } from "./testing.ts";

const NET = networkId("transport-test");

async function pair() {
  const a = await Endpoint.create({ networkId: NET });
  const b = await Endpoint.create({ networkId: NET });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

function echo(endpoint: Endpoint, protocol = "/echo/1") {
  endpoint.handle(protocol, async (channel) => {
    for await (const m of channel) await channel.send(m);
    await channel.close();
  });
}

Deno.test("two endpoints exchange messages; both sides know who is who", async () => {
  await using p = await pair();
  const seen: string[] = [];
  p.a.handle("/who/1", async (channel) => {
    seen.push(channel.peerId);
    await channel.send(channel.peerId);
    await channel.close();
  });
  const channel = await p.b.open(p.a.peerId, [p.a.hostPort], "/who/1");
  assert.equal(await channel.recv(), p.b.peerId);
  assert.equal(await channel.recv(), undefined);
  assert.deepEqual(seen, [p.b.peerId]);
  assert.equal(channel.peerId, p.a.peerId);
  await channel.close();
});

Deno.test("messages sent back to back arrive as sent, whatever their size", async () => {
  await using p = await pair();
  echo(p.a);
  const channel = await p.b.open(p.a.peerId, [p.a.hostPort], "/echo/1");
  // sent without awaiting: each is encoded while the ones before still wait to be written
  const sent = [10, 3000, 20, 70_000, 5000, 5000].map((n, i) => ({ i, fill: "x".repeat(n) }));
  await Promise.all(sent.map((m) => channel.send(m)));
  for (const m of sent) assert.deepEqual(await channel.recv(), m);
  await channel.close();
});

Deno.test("one connection per peer is reused by every protocol", async () => {
  await using p = await pair();
  echo(p.a, "/one/1");
  echo(p.a, "/two/1");
  const c1 = await p.b.open(p.a.peerId, [p.a.hostPort], "/one/1");
  const c2 = await p.b.open(p.a.peerId, [p.a.hostPort], "/two/1");
  await c1.send(1);
  await c2.send(2);
  assert.equal(await c1.recv(), 1);
  assert.equal(await c2.recv(), 2);
  assert.equal(c1.connection, c2.connection);
  assert.equal(p.b.stats.connectionsOpened, 1);
  // the acceptor can open channels back over the same connection
  echo(p.b, "/back/1");
  const back = await p.a.open(p.b.peerId, [], "/back/1");
  await back.send("x");
  assert.equal(await back.recv(), "x");
  await Promise.all([c1.close(), c2.close(), back.close()]);
});

Deno.test("dialing a PeerId whose key the server does not hold fails the TLS handshake", async () => {
  await using p = await pair();
  const impostor = SecretKey.generate().peerId;
  await assert.rejects(p.b.connect(impostor, [p.a.hostPort]), ConnectError);
  // the real one still works
  await p.b.connect(p.a.peerId, [p.a.hostPort]);
});

Deno.test("a peer of another network is refused with DifferentNetwork, said once on both sides", async () => {
  const warnings: LogRecord[] = [];
  configureLogging({ sink: (r) => r.level === "warn" && warnings.push(r) });
  try {
    await using p = await pair();
    await using other = await Endpoint.create({ networkId: networkId("elsewhere") });
    let served = 0;
    p.a.handle("/echo/1", () => void served++);
    const refused = (e: unknown) => {
      assert.ok(e instanceof ConnectError, String(e));
      assert.equal(e.closeCode, CloseCode.DifferentNetwork);
      assert.ok(e.message.includes(NET.slice(0, 12)), e.message);
      return true;
    };
    for (let i = 0; i < 3; i++) {
      // the dialer has its connection at once; the refusal is its first operation's error
      const connection = await other.connect(p.a.peerId, [p.a.hostPort]);
      const channel = await connection.open("/echo/1");
      await channel.send("hello?");
      await assert.rejects(within(channel.recv(), 5_000), refused);
      await assert.rejects(connection.open("/echo/1"), refused);
      await assert.rejects(channel.send("again?"), refused);
      await assert.rejects(connection.accepted, refused);
      assert.equal((await connection.closed).code, CloseCode.DifferentNetwork);
    }
    await eventually(() => p.a.stats.refused.DifferentNetwork === 3);
    assert.equal(served, 0, "a refused dialer's channels reached a handler");
    assert.equal(other.stats.refused.DifferentNetwork, 3);
    assert.equal(p.a.stats.refused.UnexpectedClose, undefined);
    const lines = warnings.map((w) => w.message);
    assert.equal(lines.length, 2, lines.join("\n"));
    const short = (n: string) => n.slice(0, 12);
    for (const line of lines) {
      assert.match(line, /NetworkId/);
      assert.ok(line.includes(short(NET)) && line.includes(short(other.networkId)), line);
    }
    assert.ok(lines.some((l) => l.startsWith(`refused ${p.a.peerId} at ${p.a.hostPort}`)));
    assert.ok(lines.some((l) => l.startsWith(`refused a dialer at ${other.hostPort}`)));
    await p.b.connect(p.a.peerId, [p.a.hostPort]); // still serving others
  } finally {
    configureLogging({ sink: undefined });
  }
});

Deno.test("graceful close is observed by the peer", async () => {
  const a = await Endpoint.create({ networkId: NET });
  await using b = await Endpoint.create({ networkId: NET });
  const gone = new Promise<number>((resolve) => b.onDisconnect((_, info) => resolve(info.code)));
  await b.connect(a.peerId, [a.hostPort]);
  await a.close();
  assert.equal(await within(gone, 5000), CloseCode.GracefulShutdown);
});

Deno.test("unknown protocols are refused with InvalidProtocol; the channel only", async () => {
  await using p = await pair();
  echo(p.a);
  const bad = await p.b.open(p.a.peerId, [p.a.hostPort], "/nope/1");
  await assert.rejects(
    bad.recv(),
    (e: unknown) => e instanceof ChannelClosedError && e.code === CloseCode.InvalidProtocol,
  );
  const good = await p.b.open(p.a.peerId, [p.a.hostPort], "/echo/1");
  await good.send("still fine");
  assert.equal(await good.recv(), "still fine");
  await Promise.all([bad.close(), good.close()]);
});

Deno.test("bad frames close that channel with ProtocolViolation, never the node", async () => {
  await using a = await Endpoint.create({ networkId: NET, maxFrameSize: 1024 });
  await using b = await Endpoint.create({ networkId: NET });
  const errors: string[] = [];
  a.handle("/strict/1", async (channel) => {
    try {
      for await (const m of channel) await channel.send(m);
    } catch (e) {
      errors.push((e as Error).name);
    }
  });
  // oversized frame
  const big = await b.open(a.peerId, [a.hostPort], "/strict/1");
  await big.sendBytes(new Uint8Array(4096));
  await assert.rejects(
    big.recv(),
    (e: unknown) => e instanceof ChannelClosedError && e.code === CloseCode.ProtocolViolation,
  );
  // undecodable frame
  const junk = await b.open(a.peerId, [a.hostPort], "/strict/1");
  await junk.sendBytes(new Uint8Array([0xc1]));
  await assert.rejects(
    junk.recv(),
    (e: unknown) => e instanceof ChannelClosedError && e.code === CloseCode.ProtocolViolation,
  );
  await eventually(() => errors.length === 2);
  assert.deepEqual(errors.sort(), ["DecodeError", "FrameTooLargeError"]);
  await Promise.all([big.close(), junk.close()]);
  // fuzz: random payloads on fresh channels never hurt the node
  const conn = await b.connect(a.peerId, [a.hostPort]);
  for (let i = 0; i < 300; i++) {
    const ch = await conn.open("/strict/1");
    await ch.sendBytes(crypto.getRandomValues(new Uint8Array(1 + (i % 64))));
    await ch.close();
  }
  const ok = await b.open(a.peerId, [a.hostPort], "/strict/1");
  await ok.send("alive");
  assert.equal(await ok.recv(), "alive");
  await ok.close();
});

Deno.test("blocked peers are disconnected and refused until unblocked", async () => {
  await using p = await pair();
  echo(p.a);
  await p.b.connect(p.a.peerId, [p.a.hostPort]);
  p.a.faults.block(p.b.peerId);
  await eventually(() => p.b.connection(p.a.peerId) === undefined);
  const refused = await p.b.open(p.a.peerId, [p.a.hostPort], "/echo/1");
  await assert.rejects(
    refused.recv(),
    (e) => e instanceof ConnectError && e.closeCode === CloseCode.Blocked,
  );
  await assert.rejects(p.a.connect(p.b.peerId, [p.b.hostPort]), ConnectError);
  p.a.faults.unblock(p.b.peerId);
  const ch = await p.b.open(p.a.peerId, [p.a.hostPort], "/echo/1");
  await ch.send(1);
  assert.equal(await ch.recv(), 1);
  await ch.close();
});

Deno.test("half-close: finish() ends our side while the reply still arrives", async () => {
  await using p = await pair();
  p.a.handle("/sum/1", async (channel) => {
    let sum = 0;
    for await (const n of channel) sum += n as number;
    await channel.send(sum);
    await channel.close();
  });
  const channel = await p.b.open(p.a.peerId, [p.a.hostPort], "/sum/1");
  for (let i = 1; i <= 10; i++) await channel.send(i);
  await channel.finish();
  await assert.rejects(channel.send(11));
  assert.equal(await channel.recv(), 55);
  await channel.close();
});

Deno.test("messages sent right before a graceful close still arrive", async () => {
  const a = await Endpoint.create({ networkId: NET });
  await using b = await Endpoint.create({ networkId: NET });
  const received: number[] = [];
  b.handle("/last/1", async (channel) => {
    for await (const m of channel) received.push(m as number);
  });
  const channel = await a.open(b.peerId, [b.hostPort], "/last/1");
  for (let i = 0; i < 1000; i++) await channel.send(i);
  await a.close();
  await eventually(() => received.length === 1000, { message: `got ${received.length}` });
});

Deno.test("a dial to a dead address gives up after the handshake timeout, or at once when aborted", async () => {
  const gone = await Endpoint.create({ networkId: NET });
  const { peerId, hostPort } = gone;
  await gone.close();
  await using b = await Endpoint.create({ networkId: NET, handshakeTimeout: 300 });
  await assert.rejects(within(b.connect(peerId, [hostPort]), 5_000), ConnectError);
  const abort = new AbortController();
  const dial = b.open(peerId, [hostPort], "/x/1", { signal: abort.signal });
  abort.abort(new Error("caller left"));
  await assert.rejects(dial, /caller left/);
  await assert.rejects(b.connect(peerId, [hostPort])); // let the shared dial settle
});

Deno.test("a peer's silent address does not hold the dial up: the next one starts 250 ms later", async () => {
  await using p = await pair();
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const dead = `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
    const t0 = performance.now();
    const connection = await p.b.connect(p.a.peerId, [dead, p.a.hostPort]);
    const ms = performance.now() - t0;
    assert.ok(ms < 2_000, `connected in ${ms} ms (handshake timeout 5 000)`);
    assert.equal(connection.remoteAddress, p.a.hostPort);
  } finally {
    silent.close();
  }
});

Deno.test("a connection that carries no channel for idleConnectionTimeout is closed with Idle; the next channel dials again", async () => {
  const idle = { networkId: NET, idleConnectionTimeout: 300 };
  await using a = await Endpoint.create(idle);
  await using b = await Endpoint.create({ ...idle, idleConnectionTimeout: 0 });
  echo(a);
  const disconnects: number[] = [];
  b.onDisconnect((_, info) => disconnects.push(info.code));
  const channel = await b.open(a.peerId, [a.hostPort], "/echo/1");
  const first = b.connection(a.peerId)!;
  // a channel open keeps it, however long
  await channel.send("ping");
  assert.equal(await channel.recv(), "ping");
  await delay(700); // over twice the timeout: what must not happen had its chance
  assert.equal(first.isClosed, false);
  await channel.close();
  const info = await within(first.closed, 3_000, "the idle connection closed");
  assert.equal(info.code, CloseCode.Idle);
  await eventually(() => disconnects.length === 1);
  assert.deepEqual(disconnects, [CloseCode.Idle]);
  const again = await b.open(a.peerId, [a.hostPort], "/echo/1");
  await again.send("pong");
  assert.equal(await again.recv(), "pong");
  assert.notEqual(b.connection(a.peerId), first);
  await again.close();
});

Deno.test("a channel neither side closes ends once nothing more can pass, and its connection can go idle", async () => {
  await using a = await Endpoint.create({ networkId: NET, idleConnectionTimeout: 300 });
  await using b = await Endpoint.create({ networkId: NET, idleConnectionTimeout: 0 });
  // handlers that return without closing: after the remote's close frame, and
  // after both sides finished
  a.handle("/drop/1", async (channel) => {
    for await (const m of channel) await channel.send(m);
  });
  a.handle("/ask/1", async (channel) => {
    for await (const m of channel) await channel.send(m);
    await channel.finish();
  });
  const dropped = await b.open(a.peerId, [a.hostPort], "/drop/1");
  await dropped.send("ping");
  assert.equal(await dropped.recv(), "ping");
  await dropped.close();
  const first = b.connection(a.peerId)!;
  assert.equal(
    (await within(first.closed, 3_000, "the idle connection closed")).code,
    CloseCode.Idle,
  );

  const asked = await b.open(a.peerId, [a.hostPort], "/ask/1");
  await asked.send("ping");
  await asked.finish();
  assert.equal(await asked.recv(), "ping");
  assert.equal(await asked.recv(), undefined);
  assert.equal(asked.closed, true);
  await assert.rejects(asked.send("late"), ClosedError);
  assert.equal(b.resources().channels, 0, "the asking side forgot it at once");
  const second = b.connection(a.peerId)!;
  assert.notEqual(second, first);
  assert.equal(
    (await within(second.closed, 3_000, "the idle connection closed")).code,
    CloseCode.Idle,
  );
});
