/**
 * Ping: an 8-byte nonce echoed back with the responder's network coordinate
 * (as serf's probe acks carry it), for round-trip times.
 *
 * @module
 */
import { type Channel, DecodeError, equalBytes, type PeerId } from "@mosaik/transport";
import type { Requests } from "./_requests.ts";
import { bump, type DiscoveryStats } from "./stats.ts";
import { array } from "./_check.ts";
import { type Coordinate, decodeCoordinate, encodeCoordinate } from "./vivaldi.ts";

/** Protocol name of ping channels. */
export const PING_PROTOCOL = "/mosaik/discovery/ping/1";

/** Pings `peer`; resolves with the round trip in ms and the peer's coordinate. */
export async function ping(
  requests: Requests,
  stats: DiscoveryStats,
  peer: PeerId,
  addresses: readonly string[],
): Promise<{ ms: number; coordinate: Coordinate }> {
  return await requests.request(peer, addresses, PING_PROTOCOL, async (ch) => {
    const nonce = crypto.getRandomValues(new Uint8Array(8));
    const t0 = performance.now();
    await ch.send(nonce);
    bump(stats.sent, "ping");
    const back = await ch.recv();
    const ms = performance.now() - t0;
    const [echo, coordinate] = array(back, "pong", 2, 2);
    if (!(echo instanceof Uint8Array) || !equalBytes(echo, nonce)) {
      throw new DecodeError("bad pong");
    }
    bump(stats.received, "pong");
    return { ms, coordinate: decodeCoordinate(coordinate) };
  });
}

/** Answers one ping with our `coordinate`. */
export async function servePing(
  ch: Channel,
  stats: DiscoveryStats,
  coordinate: Coordinate,
): Promise<void> {
  const nonce = await ch.recv();
  if (!(nonce instanceof Uint8Array) || nonce.length !== 8) throw new DecodeError("bad ping");
  bump(stats.received, "ping");
  await ch.send([nonce, encodeCoordinate(coordinate)]);
  bump(stats.sent, "pong");
  await ch.recv();
}
