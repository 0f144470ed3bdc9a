/**
 * The two ends of a relayed connection feed opaque QUIC packets between a
 * relay channel and their own QUIC endpoint through a UDP socket on the
 * endpoint's host: the endpoint dials (or is dialed from) that socket's
 * address, so QUIC, TLS and the PeerId pinning run end to end and the relay
 * only ever sees encrypted packets.
 *
 * A relay frame carries one or more packets, each behind a 2-byte
 * big-endian length: the packets queued at the bridge socket go out together
 * (a frame goes once a receive finds the socket drained, and not while the
 * previous frame is still being handed to the channel), so under load the
 * relay and both ends pay per batch, not per packet, and an idle circuit
 * still sends a lone packet at once.
 *
 * Why a stream and not QUIC datagrams or a plain UDP port at the relay: on
 * loopback with Deno 2.9 all three moved 90–190 Mbit/s where a direct
 * connection moved 300–1,400 (64 MiB, same runs, on 2 shared cores). Every design has some
 * Deno process pass each packet through a UDP socket one datagram per
 * operation, with a receive buffer Deno cannot raise (~208 KiB), so bursts
 * of the sending QUIC overflow it and the end-to-end QUIC backs off on the
 * losses; even a bare forwarder between two native endpoints (no relay
 * protocol) moved 106–122 Mbit/s, and one in Python 190–310. The stream
 * lets the relay itself pay per 32 KiB frame instead of per packet.
 *
 * @module
 */
import { formatHostPort, type HostPort, parseHostPort } from "./address.ts";
import type { Channel } from "./channel.ts";
import { DecodeError } from "./errors.ts";

/** A running bridge. */
export interface Bridge {
  /** The bridge socket's `host:port`: the address the local endpoint talks to. */
  readonly hostPort: string;
  /** Closes the socket and the channel. Idempotent. */
  close(): void;
  /** Resolves once the bridge stopped (either side ended, or `close`). */
  readonly done: Promise<void>;
}

/** The largest UDP payload. */
const DATAGRAM_MAX = 65_535;
/** Bytes of packets gathered into one relay frame before it must go. */
const BATCH = 32 << 10;

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

/** Bridges `channel` (relay frames of packets) to the endpoint bound at `endpointHostPort`. */
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
  const batch = new Batcher(channel);
  const up = (async () => {
    const buffer = new Uint8Array(DATAGRAM_MAX); // reused: a receive allocates 64 KiB otherwise
    for (;;) {
      let waiting = true;
      const next = socket.receive(buffer).finally(() => waiting = false);
      // A receive that finds a packet queued resolves within a couple of
      // microtasks; one still waiting after that found the socket drained.
      for (let i = 0; i < 3 && waiting; i++) await undefined;
      if (waiting) batch.flush();
      const [data, from] = await next;
      // only our endpoint's packets
      if ((from as Deno.NetAddr).port === target.port) await batch.add(data);
    }
  })();
  const down = (async () => {
    const to = { transport: "udp" as const, ...target };
    for (;;) {
      const frame = await channel.recvBytes();
      if (frame === undefined) return;
      await Promise.all(unbatch(frame).map((packet) => socket.send(packet, to)));
    }
  })();
  const done = Promise.race([up, down, batch.failed].map((loop) => loop.catch(() => {})))
    .finally(close);
  return { hostPort, close, done };
}

/**
 * Gathers packets into relay frames: a packet is copied into the open batch,
 * which goes out once the socket has no more packets queued (`flush`) and no
 * frame is in flight, or when it is full. `add` waits only while a full batch
 * is waiting, which bounds the memory.
 */
class Batcher {
  #channel: Channel;
  #buffer = new Uint8Array(BATCH);
  #at = 0;
  #sending = false;
  #due = false;
  #room: (() => void) | undefined;
  #fail!: (e: unknown) => void;
  /** Rejects when the channel refused a frame. */
  readonly failed = new Promise<never>((_, reject) => this.#fail = reject);

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  async add(packet: Uint8Array): Promise<void> {
    if (this.#at + 2 + packet.length > BATCH) this.flush();
    while (this.#at + 2 + packet.length > BATCH) {
      await new Promise<void>((resolve) => this.#room = resolve);
    }
    this.#buffer[this.#at] = packet.length >> 8;
    this.#buffer[this.#at + 1] = packet.length & 0xff;
    this.#buffer.set(packet, this.#at + 2);
    this.#at += 2 + packet.length;
  }

  /** Sends what was gathered, now or as soon as the frame in flight went. */
  flush(): void {
    this.#due = true;
    if (!this.#sending && this.#at > 0) this.#send();
  }

  async #send(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#due && this.#at > 0) {
        const frame = this.#buffer.slice(0, this.#at);
        this.#at = 0;
        this.#due = false;
        this.#room?.();
        this.#room = undefined;
        await this.#channel.sendBytes(frame);
        await this.#channel.flush();
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#sending = false;
    }
  }
}

/** The packets of a relay frame; throws a `DecodeError` when a length overruns it. */
export function unbatch(frame: Uint8Array): Uint8Array[] {
  const packets: Uint8Array[] = [];
  for (let at = 0; at < frame.length;) {
    const length = at + 2 <= frame.length ? (frame[at] << 8) | frame[at + 1] : -1;
    if (length < 0 || at + 2 + length > frame.length) {
      throw new DecodeError("relay frame: packet length overruns the frame");
    }
    packets.push(frame.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return packets;
}
