/**
 * Ping: an 8-byte nonce echoed back with the responder's network coordinate
 * (as serf's probe acks carry it), for round-trip times, and the address the
 * responder sees the pinger at (how a node behind a NAT learns its public
 * address).
 *
 * @module
 */
import { type Channel, DecodeError, equalBytes, type PeerId } from "@mosaik/transport";
import type { Requests } from "./_requests.ts";
import { bump, type DiscoveryStats } from "./stats.ts";
import { array, text } from "./_check.ts";
import { type Coordinate, decodeCoordinate, encodeCoordinate } from "./vivaldi.ts";

/** Protocol name of ping channels. */
export const PING_PROTOCOL = "/mosaik/discovery/ping/1";

/** What a ping measured and learned. */
export interface Pong {
  /** Round trip, ms. */
  ms: number;
  /** The peer's network coordinate. */
  coordinate: Coordinate;
  /** The peer's address, as we reached it. */
  observer: string;
  /** Our address as the peer sees it (absent from older peers). */
  observed?: string;
}

/** Pings `peer`; resolves with the round trip, its coordinate and how it sees us. */
export async function ping(
  requests: Requests,
  stats: DiscoveryStats,
  peer: PeerId,
  addresses: readonly string[],
): Promise<Pong> {
  return await requests.request(peer, addresses, PING_PROTOCOL, async (ch) => {
    const nonce = crypto.getRandomValues(new Uint8Array(8));
    const t0 = performance.now();
    await ch.send(nonce);
    bump(stats.sent, "ping");
    const back = await ch.recv();
    const ms = performance.now() - t0;
    const [echo, coordinate, observed] = array(back, "pong", 3, 2);
    if (!(echo instanceof Uint8Array) || !equalBytes(echo, nonce)) {
      throw new DecodeError("bad pong");
    }
    bump(stats.received, "pong");
    return {
      ms,
      coordinate: decodeCoordinate(coordinate),
      observer: ch.connection.remoteAddress,
      ...(observed !== undefined && { observed: text(observed, "observed address", 64) }),
    };
  });
}

/** Answers one ping with our `coordinate` and the address we see the pinger at. */
export async function servePing(
  ch: Channel,
  stats: DiscoveryStats,
  coordinate: Coordinate,
): Promise<void> {
  const nonce = await ch.recv();
  if (!(nonce instanceof Uint8Array) || nonce.length !== 8) throw new DecodeError("bad ping");
  bump(stats.received, "ping");
  await ch.send([nonce, encodeCoordinate(coordinate), ch.connection.remoteAddress]);
  bump(stats.sent, "pong");
  await ch.recv();
}
