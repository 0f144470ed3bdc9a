/**
 * The two ends of a relayed connection feed opaque QUIC packets between a
 * relay channel and their own QUIC endpoint through a UDP socket on the
 * endpoint's host: the endpoint dials (or is dialed from) that socket's
 * address, so QUIC, TLS and the PeerId pinning run end to end and the relay
 * only ever sees encrypted packets.
 *
 * @module
 */
import { formatHostPort, type HostPort, parseHostPort } from "./address.ts";
import type { Channel } from "./channel.ts";

/** A running bridge. */
export interface Bridge {
  /** The bridge socket's `host:port`: the address the local endpoint talks to. */
  readonly hostPort: string;
  /** Closes the socket and the channel. Idempotent. */
  close(): void;
  /** Resolves once the bridge stopped (either side ended, or `close`). */
  readonly done: Promise<void>;
}

const BRIDGES = new Set<string>();

/** Whether `hostPort` is a bridge socket of this process (a connection from it is relayed). */
export function isBridge(hostPort: string): boolean {
  return BRIDGES.has(hostPort);
}

/** Where packets for the endpoint bound at `hostPort` go: its host, or loopback when unspecified. */
export function localTarget(hostPort: string): HostPort {
  const { hostname, port } = parseHostPort(hostPort);
  return { hostname: hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname, port };
}

/** Bridges `channel` (raw frames, one QUIC packet each) to the endpoint bound at `endpointHostPort`. */
export function bridge(channel: Channel, endpointHostPort: string): Bridge {
  const target = localTarget(endpointHostPort);
  const socket = Deno.listenDatagram({ transport: "udp", hostname: target.hostname, port: 0 });
  const hostPort = formatHostPort(socket.addr as Deno.NetAddr);
  BRIDGES.add(hostPort);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    BRIDGES.delete(hostPort);
    socket.close();
    channel.close().catch(() => {});
  };
  const up = (async () => {
    for (;;) {
      const [data, from] = await socket.receive();
      const { port } = from as Deno.NetAddr;
      if (port === target.port) await channel.sendBytes(data); // only our endpoint's packets
    }
  })();
  const down = (async () => {
    for (;;) {
      const data = await channel.recvBytes();
      if (data === undefined) return;
      await socket.send(data, { transport: "udp", ...target });
    }
  })();
  const done = Promise.race([up, down].map((loop) => loop.catch(() => {}))).finally(close);
  return { hostPort, close, done };
}
