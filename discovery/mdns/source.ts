/**
 * {@linkcode mdnsBootstrap}: LAN discovery over multicast DNS as a bootstrap
 * source for discovery.
 *
 * @module
 */
import type { BootstrapContext, BootstrapSource, SourceStatus } from "../bootstrap.ts";
import { isRelayAddress, logger } from "@mosaik/transport";
import { specifyHost } from "../_addresses.ts";
import { type Announcement, encodeQuery, encodeResponse, parsePacket } from "./records.ts";
import { OFFER_LIMITS, Offers } from "./_offers.ts";

const log = logger("mdns");

/** Options of {@linkcode mdnsBootstrap}. */
export interface MdnsOptions {
  /**
   * IPv4 address of the interface to join the group on. Default: the host of
   * our first QUIC address when it is a LAN IPv4 address, else `"0.0.0.0"`
   * (the kernel's choice).
   */
  interface?: string;
  /** UDP port. Default 5353. */
  port?: number;
  /** Multicast group. Default `"224.0.0.251"`. */
  group?: string;
  /** Milliseconds between the first queries while alone (doubling up to 8×). Default 1000. */
  queryInterval?: number;
  /** Milliseconds between queries once the node has peers. Default 60 000. */
  relaxedInterval?: number;
  /** Most peers remembered as offered to discovery. Default 256. */
  maxOffered?: number;
  /**
   * Peers (new ones, or known ones at new addresses) offered to discovery per
   * second, after a burst of 16; the others are offered when heard again.
   * Every offer may be dialed, so spoofed announcements cannot make the node
   * flood a port with QUIC handshakes. Default 2.
   */
  offerRate?: number;
}

/** Counters of an mDNS source. */
export interface MdnsStats {
  /** Packets received. */
  received: number;
  /** Packets that failed to decode (dropped). */
  malformed: number;
  /** Queries we answered. */
  answered: number;
  /** Peer addresses offered to discovery. */
  offered: number;
  /** Announced peers not offered (yet) because offers were over `offerRate`. */
  limited: number;
}

/** A running mDNS source. */
export interface MdnsSource extends BootstrapSource {
  /** Counters. */
  readonly stats: MdnsStats;
}

/**
 * Announces this node as a DNS-SD service (`<PeerId>._mosaik._udp.local`,
 * subtype per NetworkId, TXT `net=` and `addr=` entries), answers queries
 * for it, browses for other nodes of the same network and offers them to
 * discovery. Re-announces when our addresses change and says goodbye (TTL 0)
 * on close. Needs `--allow-net` for `0.0.0.0:5353` and `224.0.0.251:5353`;
 * a denied permission disables it with a warning.
 *
 * @example
 * ```ts ignore
 * import { mdnsBootstrap } from "@mosaik/discovery/mdns";
 * const source = mdnsBootstrap({ interface: "192.168.1.10" });
 * ```
 */
export function mdnsBootstrap(options: MdnsOptions = {}): MdnsSource {
  const group = options.group ?? "224.0.0.251";
  const port = options.port ?? 5353;
  const queryInterval = options.queryInterval ?? 1000;
  const relaxed = options.relaxedInterval ?? 60_000;
  const stats: MdnsStats = { received: 0, malformed: 0, answered: 0, offered: 0, limited: 0 };
  let conn: Deno.DatagramConn | undefined;
  let loop: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let current: Announcement | undefined;
  let lastAnswer = 0;
  let status: SourceStatus = { state: "starting" };
  const offers = new Offers({
    maxPeers: options.maxOffered ?? OFFER_LIMITS.maxPeers,
    rate: options.offerRate ?? OFFER_LIMITS.rate,
  });

  const send = (bytes: Uint8Array) =>
    conn?.send(bytes, { transport: "udp", hostname: group, port }).catch(() => {});

  function announcement(ctx: BootstrapContext): Announcement {
    const all = ctx.localAddresses().filter((a) => !isRelayAddress(a)); // LAN peers dial directly
    const lan = all.filter((a) => !a.startsWith("127.") && !a.startsWith("[::1]"));
    return {
      network: ctx.networkId,
      peerId: ctx.secretKey.peerId,
      addresses: lan.length ? lan : all,
    };
  }

  function refresh(ctx: BootstrapContext): void {
    const next = announcement(ctx);
    if (current && current.addresses.join(" ") === next.addresses.join(" ")) return;
    current = next;
    send(encodeResponse(next));
  }

  async function receive(ctx: BootstrapContext): Promise<void> {
    while (!closed) {
      let data: Uint8Array, from: string;
      try {
        let addr: Deno.Addr;
        [data, addr] = await conn!.receive();
        from = (addr as Deno.NetAddr).hostname;
      } catch {
        if (closed) return;
        continue;
      }
      stats.received++;
      const parsed = parsePacket(data, ctx.networkId);
      if (!parsed) {
        stats.malformed++;
        continue;
      }
      if (parsed.query && current && Date.now() - lastAnswer > 100) {
        lastAnswer = Date.now();
        stats.answered++;
        send(encodeResponse(current));
      }
      for (const p of parsed.peers) {
        if (p.peerId === ctx.secretKey.peerId) continue;
        if (p.goodbye) {
          offers.forget(p.peerId);
          continue;
        }
        const verdict = offers.offer(p.peerId, p.addresses);
        if (verdict === "limited") stats.limited++;
        if (verdict !== "offer") continue;
        for (const a of p.addresses) {
          stats.offered++;
          ctx.addPeer(`${p.peerId}@${from === "0.0.0.0" ? a : specifyHost(a, from)}`);
        }
      }
    }
  }

  function schedule(ctx: BootstrapContext, delay: number): void {
    if (closed) return;
    timer = setTimeout(() => {
      refresh(ctx);
      send(encodeQuery(ctx.networkId));
      const alone = ctx.peerCount() === 0;
      schedule(ctx, alone ? Math.min(delay * 2, queryInterval * 8) : relaxed);
    }, delay);
  }

  const source: MdnsSource = {
    name: "mdns",
    stats,
    status: () => status,
    async start(ctx: BootstrapContext): Promise<void> {
      try {
        conn = Deno.listenDatagram({
          transport: "udp",
          hostname: "0.0.0.0",
          port,
          reuseAddress: true,
          loopback: true,
        });
        await conn.joinMulticastV4(group, options.interface ?? defaultInterface(ctx));
      } catch (e) {
        log.warn(`disabled, cannot join ${group}:${port}`, e);
        const why = e instanceof Error ? e.message : String(e);
        status = { state: "disabled", reason: `cannot join ${group}:${port}: ${why}` };
        conn?.close();
        conn = undefined;
        return;
      }
      ctx.signal.addEventListener("abort", () => void source.close(), { once: true });
      status = { state: "running" };
      loop = receive(ctx);
      refresh(ctx);
      send(encodeQuery(ctx.networkId));
      schedule(ctx, queryInterval);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (conn && current) {
        await conn.send(encodeResponse(current, 0), { transport: "udp", hostname: group, port })
          .catch(() => {});
      }
      conn?.close();
      await loop;
    },
  };
  return source;
}

function defaultInterface(ctx: BootstrapContext): string {
  const first = ctx.localAddresses()[0] ?? "";
  const host = first.slice(0, first.lastIndexOf(":"));
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) && !host.startsWith("127.") && host !== "0.0.0.0"
    ? host
    : "0.0.0.0";
}
