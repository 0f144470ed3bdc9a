/**
 * Transport benchmarks: frame throughput, handshake latency and the CPU of a
 * new connection with its first exchange, next to raw `Deno.connectQuic` in
 * the same run, 40 fully connected endpoints, and the codec choice.
 *
 * Run alone: `deno run -A bench/transport.ts`
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Packr } from "npm:msgpackr@2.1.4";
import { Endpoint, networkId, SecretKey } from "@mosaik/transport";
import { certificateFor, pinnedTls } from "@mosaik/transport/testing";
import { figure, percentile, report } from "./_report.ts";
import { meter } from "./_proc.ts";

const NET = networkId("bench");
const ALPN = ["bench/raw"];

function rawServer() {
  const key = SecretKey.generate();
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({ ...certificateFor(key), alpnProtocols: ALPN });
  let onBytes: (n: number) => void = () => {};
  (async () => {
    for await (const incoming of listener) {
      (async () => {
        const conn = await incoming.accept();
        for await (const stream of conn.incomingUnidirectionalStreams) {
          (async () => {
            for await (const chunk of stream) onBytes(chunk.length);
          })().catch(() => {});
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  const connect = () =>
    Deno.connectQuic({
      hostname: "127.0.0.1",
      port: endpoint.addr.port,
      ...pinnedTls(key.peerId),
      alpnProtocols: ALPN,
    });
  return {
    connect,
    setOnBytes(fn: (n: number) => void) {
      onBytes = fn;
    },
    close() {
      listener.stop();
      endpoint.close();
    },
  };
}

function waitFor(target: number, set: (fn: (n: number) => void) => void): Promise<void> {
  let got = 0;
  return new Promise((resolve) =>
    set((n) => {
      got += n;
      if (got >= target) resolve();
    })
  );
}

async function rawThroughput(size: number, count: number): Promise<number> {
  const server = rawServer();
  const conn = await server.connect();
  const stream = await conn.createUnidirectionalStream();
  const writer = stream.getWriter();
  const payload = new Uint8Array(size);
  const done = waitFor(size * count, server.setOnBytes);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await writer.write(payload);
  await done;
  const secs = (performance.now() - t0) / 1000;
  await writer.close().catch(() => {});
  conn.close({ closeCode: 0, reason: "" });
  server.close();
  return count / secs;
}

async function oursThroughput(size: number, count: number): Promise<number> {
  const a = await Endpoint.create({ networkId: NET });
  const b = await Endpoint.create({ networkId: NET });
  let finish: () => void;
  const done = new Promise<void>((r) => finish = r);
  a.handle("/sink/1", async (channel) => {
    let n = 0;
    while (await channel.recvBytes()) if (++n === count) finish();
  });
  const channel = await b.open(a.peerId, [a.hostPort], "/sink/1");
  const payload = new Uint8Array(size);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await channel.sendBytes(payload);
  await done;
  const secs = (performance.now() - t0) / 1000;
  await channel.close();
  await Promise.all([a.close(), b.close()]);
  return count / secs;
}

/** Handshake times, raw and ours alternating, so a load that comes and goes touches both alike. */
async function handshakes(): Promise<{ raw: number; ours: number }> {
  const server = rawServer();
  await (await server.connect()).close(); // one-time set-up
  const a = await Endpoint.create({ networkId: NET });
  const raw: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < 50; i++) {
    let t0 = performance.now();
    const c = await server.connect();
    raw.push(performance.now() - t0);
    c.close({ closeCode: 0, reason: "" });
    const b = await Endpoint.create({ networkId: NET });
    t0 = performance.now();
    await b.connect(a.peerId, [a.hostPort]);
    ours.push(performance.now() - t0);
    await b.close();
  }
  server.close();
  await a.close();
  return { raw: percentile(raw, 50), ours: percentile(ours, 50) };
}

/** Milliseconds of this process's CPU (user + system, every thread) that `fn` takes. */
async function cpuOf(fn: () => Promise<void>): Promise<number> {
  const stop = meter([Deno.pid]);
  await fn();
  const spent = stop();
  if (!spent) throw new Error("CPU time needs Linux's /proc");
  return spent.cpu * 1000;
}

/** Bytes each way of the first exchange on a new connection (a protocol's request and answer). */
const FIRST_EXCHANGE = 40;

/** Reads `stream` until {@linkcode FIRST_EXCHANGE} bytes came (or it ended). */
async function readExchange(stream: Deno.QuicBidirectionalStream): Promise<void> {
  const reader = stream.readable.getReader();
  for (let got = 0; got < FIRST_EXCHANGE;) got += (await reader.read()).value?.length ?? Infinity;
}

/**
 * CPU per new connection and its first exchange, both ends in this process,
 * each until the answer is back: raw QUIC from a fresh client endpoint each
 * (as every node has its own) with one bidirectional stream carrying 40
 * bytes each way, and ours with a channel doing the same (the identity
 * proof and its verdict ride on that channel's stream). Endpoints are made
 * before and closed after the measured part.
 */
async function handshakeCpu(count = 150, warmUp = 20): Promise<{ raw: number; ours: number }> {
  const key = SecretKey.generate();
  const server = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = server.listen({ ...certificateFor(key), alpnProtocols: ALPN });
  const conns: Deno.QuicConn[] = [];
  const echo = async (stream: Deno.QuicBidirectionalStream) => {
    await readExchange(stream);
    await stream.writable.getWriter().write(new Uint8Array(FIRST_EXCHANGE));
  };
  (async () => {
    for await (const incoming of listener) {
      const conn = await incoming.accept();
      conns.push(conn);
      conn.incomingBidirectionalStreams.getReader().read().then(({ value }) => echo(value!));
    }
  })().catch(() => {});
  const clients = Array.from(
    { length: warmUp + count },
    () => new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 }),
  );
  const dialRaw = async (endpoints: Deno.QuicEndpoint[]) => {
    for (const endpoint of endpoints) {
      const conn = await Deno.connectQuic({
        endpoint,
        hostname: "127.0.0.1",
        port: server.addr.port,
        ...pinnedTls(key.peerId),
        alpnProtocols: ALPN,
      });
      conns.push(conn);
      const stream = await conn.createBidirectionalStream();
      await stream.writable.getWriter().write(new Uint8Array(FIRST_EXCHANGE));
      await readExchange(stream);
    }
  };
  await dialRaw(clients.slice(0, warmUp));
  const raw = await cpuOf(() => dialRaw(clients.slice(warmUp)));
  for (const c of conns) c.close({ closeCode: 0, reason: "" });
  for (const e of [server, ...clients]) e.close();
  const hub = await Endpoint.create({ networkId: NET });
  hub.handle(
    "/bench/first/1",
    async (channel) => await channel.sendBytes(await channel.recvBytes() ?? new Uint8Array()),
  );
  const dialers = await Promise.all(
    Array.from({ length: warmUp + count }, () => Endpoint.create({ networkId: NET })),
  );
  const dialOurs = async (endpoints: Endpoint[]) => {
    for (const d of endpoints) {
      const channel = await d.open(hub.peerId, [hub.hostPort], "/bench/first/1");
      await channel.sendBytes(new Uint8Array(FIRST_EXCHANGE - 4)); // with its 4-byte frame header
      await channel.recvBytes();
    }
  };
  await dialOurs(dialers.slice(0, warmUp));
  const ours = await cpuOf(() => dialOurs(dialers.slice(warmUp)));
  await Promise.all([hub, ...dialers].map((e) => e.close()));
  return { raw: raw / count, ours: ours / count };
}

async function mesh(n: number): Promise<{ ms: number; messages: number }> {
  const nodes = await Promise.all(
    Array.from({ length: n }, () => Endpoint.create({ networkId: NET })),
  );
  let received = 0;
  for (const node of nodes) {
    node.handle("/ping/1", async (channel) => {
      for await (const m of channel) {
        received++;
        await channel.send(m);
      }
    });
  }
  const t0 = performance.now();
  await Promise.all(nodes.flatMap((x, i) =>
    nodes.slice(i + 1).map(async (y) => {
      const channel = await x.open(y.peerId, [y.hostPort], "/ping/1");
      await channel.send(i);
      await channel.recv();
      await channel.close();
    })
  ));
  const ms = performance.now() - t0;
  await Promise.all(nodes.map((x) => x.close()));
  return { ms, messages: received };
}

function codecs(): void {
  const packr = new Packr({ useRecords: false });
  const enc = new Encoder();
  const dec = new Decoder();
  const msg = {
    t: 3,
    seq: 12345,
    peer: "x".repeat(52),
    data: new Uint8Array(64),
    tags: ["a", "b"],
  };
  const rate = (fn: () => void) => {
    for (let i = 0; i < 20_000; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < 200_000; i++) fn();
    return 200_000 / ((performance.now() - t0) / 1000);
  };
  const packed = enc.encode(msg);
  report(
    "codec encode @msgpack/msgpack vs msgpackr",
    rate(() => enc.encode(msg)),
    rate(() => packr.pack(msg)),
    "msg/s",
  );
  report(
    "codec decode @msgpack/msgpack vs msgpackr",
    rate(() => dec.decode(packed)),
    rate(() => packr.unpack(packed)),
    "msg/s",
  );
}

/** Runs every transport benchmark and prints the figures. */
export async function run(): Promise<void> {
  console.log("## transport");
  for (const [size, count] of [[64, 400_000], [1024, 100_000], [65536, 4_000]]) {
    const raw = await rawThroughput(size, count);
    const ours = await oursThroughput(size, count);
    const mib = (r: number) => (r * size) / (1 << 20);
    report(
      `frames ${size} B (frames/s)`,
      ours,
      raw,
      "frames/s",
      size > 64 ? { ratio: 0.8, higherIsBetter: true } : undefined,
    );
    figure(`  ${size} B throughput`, mib(ours), "MiB/s", `raw ${mib(raw).toFixed(1)} MiB/s`);
    if (size === 64) {
      figure("  64 B goal ≥ 300k frames/s", ours, "frames/s", ours >= 300_000 ? "met" : "MISSED");
    }
  }
  const hs = await handshakes();
  report("handshake p50 (ours: + identity proof, no RTT)", hs.ours, hs.raw, "ms", {
    ratio: 1.2,
    higherIsBetter: false,
  });
  const cpu = await handshakeCpu();
  report("new connection + first exchange, CPU of both ends", cpu.ours, cpu.raw, "ms");
  const m = await mesh(40);
  figure("40 endpoints, all 780 pairs connect+echo", m.ms, "ms", `${m.messages} messages`);
  codecs();
}

if (import.meta.main) await run();
