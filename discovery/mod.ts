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
export * from "./local.ts";
export * from "./discovery.ts";
export type { HyParViewConfig } from "./_hyparview.ts";
export type { PlumtreeConfig } from "./_plumtree.ts";
