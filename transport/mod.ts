/**
 * `@mosaik/transport`: identities, the MessagePack codec, length-prefixed
 * framing and an authenticated QUIC {@linkcode Endpoint} built on Deno's
 * native QUIC (`--unstable-net`, `--allow-net` for the bound address and the
 * peers dialed).
 *
 * @example
 * ```ts
 * import { Endpoint, networkId } from "@mosaik/transport";
 * const net = networkId("example");
 * await using server = await Endpoint.create({ networkId: net });
 * await using client = await Endpoint.create({ networkId: net });
 * server.handle("/greet/1", async (channel) => {
 *   const name = await channel.recv<string>();
 *   await channel.send(`hello, ${name}`);
 *   await channel.close();
 * });
 * const channel = await client.open(server.peerId, [server.hostPort], "/greet/1");
 * await channel.send("deno");
 * console.log(await channel.recv()); // "hello, deno"
 * ```
 *
 * @module
 */
export * from "./address.ts";
export * from "./async.ts";
export * from "./bytes.ts";
export * from "./channel.ts";
export * from "./codec.ts";
export * from "./connection.ts";
export * from "./endpoint.ts";
export * from "./errors.ts";
export * from "./ids.ts";
export { DEFAULT_LIMITS, type ResourceLimits, type ResourceUsage } from "./limits.ts";
export * from "./log.ts";
export { holePunching, PUNCH_PROTOCOL, type PunchStats } from "./punch.ts";
export {
  isRelayAddress,
  parseRelayAddress,
  Relay,
  RELAY_LIMITS,
  RELAY_PROTOCOL,
  relayAddress,
  type RelayLimits,
  RelayReservation,
  type RelayStats,
  type ReservationState,
} from "./relay.ts";
export * from "./ticket.ts";
export * from "./timers.ts";
export * from "./vocabulary.ts";
