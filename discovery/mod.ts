/**
 * Peer discovery for mosaik: signed peer entries, a catalog of every peer of
 * the network, gossip (HyParView membership + Plumtree broadcast), catalog
 * sync and ping/RTT.
 *
 * @module
 */
export * from "./bootstrap.ts";
export {
  canonicalEntry,
  compareVersions,
  decodeDeparture,
  decodeSignedEntry,
  type Departure,
  ENTRY_LIMITS,
  InvalidEntryError,
  nextVersion,
  type PeerEntry,
  type RejectReason,
  signDeparture,
  type SignedPeerEntry,
  signEntry,
  type Ticket,
  verifyEntry,
  type Version,
} from "./entry.ts";
export * from "./catalog.ts";
export * from "./local.ts";
export * from "./discovery.ts";
export type { HyParViewConfig } from "./_hyparview.ts";
export type { PlumtreeConfig } from "./_plumtree.ts";
