/**
 * Peer discovery for mosaik: signed peer entries, a catalog of every peer of
 * the network, gossip (HyParView membership + Plumtree broadcast), catalog
 * sync and ping/RTT.
 *
 * @module
 */
export * from "./bootstrap.ts";
export * from "./entry.ts";
export * from "./catalog.ts";
