// Hostile peers, scripted on the real wire: each takes the victim
// (`Target`) and resolves when it is over, having closed what it opened.
import { deadline, delay, Endpoint, parseHostPort, SecretKey } from "@mosaik/transport";
import { dialRaw, MOSAIK_ALPN, pinnedTls } from "@mosaik/transport/testing";
import type { Target } from "./_scene.ts";

/** Wire names of the protocols a stranger can reach. */
export const PROTOCOLS = {
  streams: "/mosaik/streams/1",
  groups: "/mosaik/groups/1",
  sync: "/mosaik/discovery/sync/1",
  gossip: "/mosaik/discovery/gossip/1",
} as const;

/** A payload just under the 8 MiB frame limit. */
const BOMB_SIZE = (8 << 20) - 64;
const TEXT = new TextEncoder();

/** MessagePack nested a million levels deep: `0x91` × N, then nil. */
export function deepNesting(size = BOMB_SIZE): Uint8Array {
  const bytes = new Uint8Array(size).fill(0x91);
  bytes[size - 1] = 0xc0;
  return bytes;
}

/** A MessagePack array32 of empty maps filling `size` bytes (each 1 byte, each a JS object). */
export function emptyMaps(size = BOMB_SIZE): Uint8Array {
  const bytes = new Uint8Array(size).fill(0x80);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, size - 5);
  return bytes;
}

/** A frame: 4-byte big-endian length, then the payload. */
export function frame(payload: Uint8Array, length = payload.length): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, length);
  out.set(payload, 4);
  return out;
}

/**
 * A fresh key opens channels for `protocol` and sends each bomb `rounds`
 * times as the first message, each on a new channel, waiting for the victim
 * to close it.
 */
export async function decodeBombs(target: Target, protocol: string, rounds = 1): Promise<void> {
  await using attacker = await Endpoint.create({ networkId: target.network });
  const bombs = [deepNesting(), emptyMaps()];
  for (let round = 0; round < rounds; round++) {
    for (const bomb of bombs) {
      try {
        const channel = await attacker.open(target.peerId, [target.hostPort], protocol);
        await channel.sendBytes(bomb);
        await deadline(channel.recvBytes(), 5_000).catch(() => {});
        await channel.close();
      } catch {
        // the victim refused or reset it: the next bomb goes on a new channel
      }
    }
  }
}

/** `count` channels whose header claims 8 MiB; 1 MiB of it is sent. */
export async function hugeHeaders(target: Target, count = 4): Promise<void> {
  const conn = await dialRaw(target.peerId, target.hostPort, SecretKey.generate(), target.network);
  try {
    const junk = frame(new Uint8Array(1 << 20), 8 << 20);
    await Promise.all(Array.from({ length: count }, async () => {
      const stream = await conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      await deadline(writer.write(junk), 5_000).catch(() => {});
      // the victim answers with a close frame and stops reading
      const reader = stream.readable.getReader();
      await deadline(reader.read(), 5_000).catch(() => {});
    }));
  } finally {
    conn.close();
  }
}

/**
 * `streams` channels each declare a 60 KiB frame (small enough to need no
 * room in the victim's frame budget), then send it one byte every few
 * milliseconds for `duration` ms: every read of the victim finds a byte.
 */
export async function trickle(target: Target, streams = 64, duration = 2_000): Promise<void> {
  const conn = await dialRaw(target.peerId, target.hostPort, SecretKey.generate(), target.network);
  try {
    await Promise.all(Array.from({ length: streams }, async () => {
      const stream = await conn.createBidirectionalStream({ waitUntilAvailable: true });
      const writer = stream.writable.getWriter();
      try {
        await writer.write(protocolHeader(PROTOCOLS.gossip));
        await writer.write(frame(new Uint8Array(0), 60 << 10));
        for (const until = Date.now() + duration; Date.now() < until;) {
          await writer.write(new Uint8Array([0x90]));
          await delay(2);
        }
        await writer.close(); // gives its stream credit back
      } catch {
        // the victim stopped this stream
      }
    }));
  } finally {
    conn.close();
  }
}

/**
 * `streams` channels (over two connections of one key) each announce an
 * 8 MiB frame and send `sent` bytes of it, then hold it for `hold` ms.
 */
export async function partialFrames(
  target: Target,
  streams = 200,
  sent = 512 << 10,
  hold = 1_000,
): Promise<void> {
  const key = SecretKey.generate();
  const conns = await Promise.all(
    [0, 1].map(() => dialRaw(target.peerId, target.hostPort, key, target.network)),
  );
  try {
    const start = new Uint8Array(4 + 4 + PROTOCOLS.gossip.length + sent);
    start.set(protocolHeader(PROTOCOLS.gossip));
    new DataView(start.buffer).setUint32(4 + PROTOCOLS.gossip.length, 8 << 20);
    await Promise.all(Array.from({ length: streams }, async (_, i) => {
      const stream = await conns[i % 2].createBidirectionalStream({ waitUntilAvailable: true });
      const writer = stream.writable.getWriter();
      await deadline(writer.write(start), 5_000).catch(() => {});
    }));
    await delay(hold);
  } finally {
    for (const c of conns) c.close();
  }
}

/** `count` QUIC connections that finish TLS but never prove an identity, held `hold` ms. */
export async function unauthenticated(target: Target, count = 300, hold = 1_500): Promise<void> {
  const { hostname, port } = parseHostPort(target.hostPort);
  const dials = await Promise.allSettled(
    Array.from({ length: count }, () =>
      Deno.connectQuic<false>({
        hostname,
        port,
        alpnProtocols: [MOSAIK_ALPN],
        ...pinnedTls(target.peerId),
      })),
  );
  await delay(hold);
  for (const d of dials) if (d.status === "fulfilled") d.value.close();
}

/**
 * `count` channels over authenticated connections of `keys` fresh keys (two
 * connections each), each sending `header` and then nothing, held `hold` ms.
 */
export async function silentChannels(
  target: Target,
  header: Uint8Array,
  count = 2_000,
  hold = 2_500,
  keys = 4,
): Promise<void> {
  const secrets = Array.from({ length: keys }, () => SecretKey.generate());
  await withConnections(target, keys * 2, (i) => secrets[i >> 1], async (conns) => {
    const perConn = Math.ceil(count / conns.length);
    const until = Date.now() + hold;
    await Promise.all(conns.map(async (conn) => {
      for (let i = 0; i < perConn && Date.now() < until; i++) {
        const stream = await deadline(
          conn.createBidirectionalStream({ waitUntilAvailable: true }),
          until - Date.now(),
        ).catch(() => undefined);
        if (!stream) return;
        const writer = stream.writable.getWriter();
        writer.write(header).catch(() => {});
        writer.releaseLock();
      }
    }));
    await delay(Math.max(0, until - Date.now()));
  });
}

/** The header of a channel for `protocol`. */
export function protocolHeader(protocol: string): Uint8Array {
  return frame(TEXT.encode(protocol));
}

/** `count` fresh keys connect and authenticate (`parallel` at a time, retried), held `hold` ms. */
export async function freshKeys(
  target: Target,
  count = 200,
  hold = 1_500,
  parallel = 16,
): Promise<void> {
  const conns: Deno.QuicConn[] = [];
  let next = 0;
  const dialer = async () => {
    while (next < count) {
      next++;
      for (let attempt = 0; attempt < 3; attempt++) {
        const conn = await dialRaw(
          target.peerId,
          target.hostPort,
          SecretKey.generate(),
          target.network,
        ).catch(() => undefined);
        if (conn) {
          conns.push(conn);
          break;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, dialer));
    await delay(hold);
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * `streams` unidirectional streams (a kind no protocol of ours uses, so
 * nothing reads them) each send `bytes`, over `connections` connections.
 */
export function unidirectional(
  target: Target,
  connections = 4,
  streams = 100,
  bytes = 1 << 20,
): Promise<void> {
  const key = SecretKey.generate();
  const chunk = new Uint8Array(64 << 10);
  return withConnections(target, connections, () => key, async (conns) => {
    await Promise.all(conns.flatMap((conn) =>
      Array.from({ length: streams }, async () => {
        const stream = await deadline(conn.createUnidirectionalStream(), 2_000).catch(() =>
          undefined
        );
        if (!stream) return;
        const writer = stream.getWriter();
        for (let sent = 0; sent < bytes; sent += chunk.length) {
          if (await deadline(writer.write(chunk), 2_000).then(() => false, () => true)) return;
        }
      })
    ));
  });
}

/** `connections` fresh keys each send `perConnection` QUIC datagrams of ~1 KiB (no protocol reads them). */
export function datagrams(
  target: Target,
  connections = 32,
  perConnection = 1_500,
): Promise<void> {
  const datagram = new Uint8Array(1_024);
  return withConnections(target, connections, () => SecretKey.generate(), async (conns) => {
    for (let i = 0; i < perConnection; i++) {
      for (const conn of conns) await conn.sendDatagram(datagram).catch(() => {});
    }
  });
}

/** `count` authenticated connections (the i-th as `keyOf(i)`), all closed once `use` settles. */
async function withConnections(
  target: Target,
  count: number,
  keyOf: (i: number) => SecretKey,
  use: (conns: Deno.QuicConn[]) => Promise<void>,
): Promise<void> {
  const conns = await Promise.all(
    Array.from(
      { length: count },
      (_, i) => dialRaw(target.peerId, target.hostPort, keyOf(i), target.network),
    ),
  );
  try {
    await use(conns);
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * `connections` QUIC connections that start a proof and never finish it,
 * then send 1 MiB on every stream their credit allows (`streams` each) and
 * hold them `hold` ms: bytes parked on streams nobody may read before the
 * proof.
 */
export async function unprovenStreams(
  target: Target,
  connections = 8,
  streams = 64,
  hold = 4_000,
): Promise<void> {
  const { hostname, port } = parseHostPort(target.hostPort);
  const tls = { hostname, port, alpnProtocols: [MOSAIK_ALPN], ...pinnedTls(target.peerId) };
  const conns = await Promise.all(
    Array.from({ length: connections }, () => Deno.connectQuic<false>(tls)),
  );
  try {
    const mib = new Uint8Array(1 << 20);
    await Promise.all(conns.map(async (conn) => {
      const proof = await conn.createBidirectionalStream();
      await proof.writable.getWriter().write(new Uint8Array([0, 0])).catch(() => {});
      await Promise.all(Array.from({ length: streams - 1 }, async () => {
        const stream = await conn.createBidirectionalStream().catch(() => undefined);
        await deadline(stream?.writable.getWriter().write(mib) ?? Promise.resolve(), hold)
          .catch(() => {});
      }));
    }));
    await delay(hold);
  } finally {
    for (const c of conns) c.close();
  }
}
