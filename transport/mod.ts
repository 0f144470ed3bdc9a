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
 * ## Identities
 *
 * A dialer trusts only the certificate of the key of the `PeerId` it dials
 * (TLS pinning: every field of a node's certificate follows from its
 * `PeerId`, so the dialer builds it and pins its SHA-256; TLS 1.3 then
 * makes the acceptor sign the handshake with the key inside). It proves its
 * own identity in its first frame: a signature over the acceptor's `PeerId`,
 * the `NetworkId`, a timestamp and a random nonce, sent without waiting for
 * the acceptor, so `connect` resolves when QUIC's handshake does and the
 * first channel's frames travel right behind the proof, on the same stream
 * (ALPN `mosaik/3`; the acceptor's "ok" comes back on it before the
 * channel's first answer). The acceptor routes no stream of the connection
 * before the proof checks out: it holds up to 4 more opened meanwhile unread
 * and refuses a dialer that opens more (an endpoint waits for the verdict
 * before a sixth channel), so an unproven dialer parks at most 5 streams'
 * receive windows, and it holds one of `maxPendingHandshakes` slots for at
 * most `handshakeTimeout`. A refusal
 * (`DifferentNetwork`, `InvalidProof`, `ClockSkew`, `Blocked`,
 * `ResourceLimit`, `HandshakeTimeout`) closes the connection with its code:
 * the dialer's `Connection.accepted` rejects with a `ConnectError` carrying
 * it, so does the first channel operation that fails, and
 * `Connection.closed` resolves with it.
 *
 * Why sending before the verdict gives nothing away:
 * - The proof and the early frames go in QUIC's 1-RTT packets, after the TLS
 *   handshake finished with the pinned key: not TLS 0-RTT data, which a
 *   network attacker could replay. Only the acceptor reads them, and it is
 *   the party the dialer meant them for; its verdict protects the acceptor,
 *   never the dialer, whose trust rests on TLS alone, before and after.
 * - A man in the middle that cannot break the pinning cannot finish the
 *   dialer's TLS handshake, so the dialer's `connect` fails and nothing is
 *   sent; it can forward packets (as a relay does: it reads and forges
 *   nothing) or drop them, which ends in a timeout, and it cannot fake a
 *   refusal, since a connection close after the handshake is authenticated.
 * - A captured proof is worthless. Nobody but the acceptor sees one (it is
 *   encrypted to the pinned key). Replayed at the same acceptor within the
 *   ±60 s window it is refused (each (dialer, nonce) is accepted once, in a
 *   bounded memory that refuses whatever it forgot); outside the window the
 *   timestamp is refused; at another acceptor the signature, which names the
 *   acceptor, fails; on another network the signed `NetworkId` differs. The
 *   acceptor itself, the one party that holds the proof, can only present it
 *   to itself. Replaying a connection's packets is QUIC's to refuse.
 * - A dialer cannot speak as someone else: without the key it cannot sign,
 *   and what it sent before a refusal is dropped unread, never handed to a
 *   protocol.
 *
 * @module
 */
export * from "./address.ts";
export * from "./async.ts";
export * from "./bounded.ts";
export * from "./bytes.ts";
export * from "./channel.ts";
export * from "./codec.ts";
export * from "./connection.ts";
export * from "./endpoint.ts";
export * from "./errors.ts";
export { frameBuffer, releaseFrame } from "./_frame_buffers.ts";
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
export * from "./turns.ts";
export * from "./vocabulary.ts";
