/**
 * LAN discovery over multicast DNS (RFC 6762) with DNS-SD records
 * (RFC 6763), as a bootstrap source for `@mosaik/discovery`.
 *
 * Each node registers `<PeerId>._mosaik._udp.local` with a PTR under
 * `_mosaik._udp.local` and under the network subtype
 * `_n<NetworkId prefix>._sub._mosaik._udp.local`, an SRV and A records, and a
 * TXT record with `net=<NetworkId>` and one `addr=host:port` per QUIC address.
 * Nodes query for their network's subtype (every second while alone, backing
 * off; every minute once they have peers), answer queries, re-announce when
 * their addresses change and send a goodbye (TTL 0) on close. Records are not
 * signed: the QUIC handshake pins the announced PeerId, so a forged record
 * can only cost a failed dial.
 *
 * Packets are encoded and decoded with `dns-packet` (the codec that
 * `multicast-dns` itself uses, with name compression and every record type),
 * rather than a hand-rolled codec; decoding errors of malformed packets are
 * caught, counted in {@linkcode MdnsStats.malformed} and never crash the node.
 *
 * Multicast uses Deno's `joinMulticastV4` (`--unstable-net`); it needs
 * `--allow-net=0.0.0.0:5353,224.0.0.251:5353`. Multicast TTL stays 1, so
 * packets never leave the link; tests run in network namespaces they create.
 *
 * @example Start it by hand (discovery normally does this)
 * ```ts ignore
 * import { mdnsBootstrap } from "@mosaik/discovery/mdns";
 * const source = mdnsBootstrap();
 * // Discovery calls source.start(ctx) and later source.close().
 * ```
 *
 * @example The records a node announces, and what a browser reads back
 * ```ts
 * import { networkId, SecretKey } from "@mosaik/transport";
 * import { encodeResponse, parsePacket } from "@mosaik/discovery/mdns";
 * const network = networkId("my-app");
 * const peerId = SecretKey.generate().peerId;
 * const packet = encodeResponse({ network, peerId, addresses: ["192.168.1.10:4433"] });
 * const parsed = parsePacket(packet, network);
 * console.assert(parsed?.peers[0].peerId === peerId);
 * ```
 *
 * @module
 */
export * from "./records.ts";
export * from "./source.ts";
// Re-exported so the types this module's API mentions are documented with it.
export type { BootstrapContext, BootstrapSource } from "../bootstrap.ts";
export type { Digest, NetworkId, PeerId } from "@mosaik/transport";
export { SecretKey } from "@mosaik/transport";
