/**
 * Peer discovery for mosaik: signed peer entries, a catalog of every peer of
 * the network, gossip (HyParView membership + Plumtree broadcast), catalog
 * sync and ping/RTT. Bootstrap sources (`./dht`, `./mdns`, your own) plug in
 * through {@linkcode BootstrapSource}.
 *
 * Protocols on the endpoint: `/mosaik/discovery/gossip/1`,
 * `/mosaik/discovery/sync/1`, `/mosaik/discovery/ping/1`. Needs
 * `--unstable-net` and `--allow-net` for the endpoint's address and peers.
 *
 * @example
 * ```ts
 * import { Endpoint, networkId, tag } from "@mosaik/transport";
 * import { Discovery } from "@mosaik/discovery";
 *
 * const net = networkId("discovery-example");
 * await using ea = await Endpoint.create({ networkId: net });
 * await using eb = await Endpoint.create({ networkId: net });
 * const a = await Discovery.create(ea, { tags: [tag("matcher")] });
 * const b = await Discovery.create(eb, { bootstrap: [ea.address] });
 * await b.when.peers({ minimum: 1, tags: [tag("matcher")] });
 * console.log(b.catalog.get(ea.peerId)?.addresses); // [ "127.0.0.1:..." ]
 * await b.close();
 * await a.close();
 * ```
 *
 * @module
 */
export * from "./bootstrap.ts";
export { decodeDeparture, type Departure, signDeparture } from "./departure.ts";
export {
  canonicalEntry,
  compareVersions,
  decodeSignedEntry,
  ENTRY_LIMITS,
  type EntryVersion,
  InvalidEntryError,
  nextVersion,
  type PeerEntry,
  type RejectReason,
  type SignedPeerEntry,
  signEntry,
  verifyEntry,
} from "./entry.ts";
// Re-exported so the types this module's API mentions are documented with it.
export type { GroupId, NetworkId, StreamId, Tag, Ticket, WaitOptions } from "@mosaik/transport";
export * from "./catalog.ts";
export * from "./local.ts";
export * from "./discovery.ts";
export type { DiscoveryOptions } from "./options.ts";
export type { DiscoveryStats } from "./stats.ts";
export * from "./placement.ts";
export * from "./vivaldi.ts";
export type { HyParViewConfig } from "./_hyparview_config.ts";
export type { PlumtreeConfig } from "./_plumtree.ts";
