/**
 * Options of {@linkcode Discovery.create}, and their defaults.
 *
 * @module
 */
import type { Tag } from "@mosaik/transport";
import type { BootstrapSource } from "./bootstrap.ts";
import type { HyParViewConfig } from "./_hyparview_config.ts";
import type { PlumtreeConfig } from "./_plumtree.ts";
import type { GeoLocation } from "./placement.ts";
import type { VivaldiConfig } from "./vivaldi.ts";

/** Options of {@linkcode Discovery.create}. Durations are milliseconds. */
export interface DiscoveryOptions {
  /** Peers to join through, `"<peerId>@host:port"`. */
  bootstrap?: string[];
  /** Tags to advertise from the start. */
  tags?: Tag[];
  /**
   * `host:port` addresses to advertise, fixed. Default: the endpoint's
   * address, or when it is bound to `0.0.0.0`/`::` every interface's address
   * (loopback only if there is no other) plus the address at least two
   * peers on distinct hosts see us at; re-checked every few seconds and
   * re-announced when it changes.
   */
  addresses?: string[];
  /**
   * Further addresses to advertise beside those, asked at every address
   * check (every few seconds): the relayed addresses of relay reservations.
   */
  extraAddresses?: () => string[];
  /** Further bootstrap sources (mDNS, DHT, ...). */
  sources?: BootstrapSource[];
  /** An entry not refreshed for this long expires. Default 300 000. */
  purgeAfter?: number;
  /** Period of the re-announce that refreshes our entry (±`announceJitter`). Default 45 000. */
  announceInterval?: number;
  /** Jitter of the re-announce as a fraction of the interval. Default 0.5. */
  announceJitter?: number;
  /** Entries dated further than this in the future are refused. Default 50 000. */
  maxDrift?: number;
  /**
   * Longest period of anti-entropy catalog syncs with a random neighbour (or
   * a peer outside the active view, now and then). They start 100 ms after a
   * change of neighbours or of our entry and double up to this. Default
   * 30 000.
   */
  syncInterval?: number;
  /** Period of RTT probes of neighbours and connected peers (±50 %). Default 30 000. */
  rttProbeInterval?: number;
  /** Time limit of one catalog sync or ping. Default 5 000. */
  requestTimeout?: number;
  /** How long a peer that sent 3 undecodable messages or forged/foreign entries is ignored; 0 bans nobody. Default 60 000. */
  banDuration?: number;
  /** How long `close()` waits for neighbours to confirm they read the departure. Default 500. */
  departureWindow?: number;
  /** Largest broadcast payload; bigger entries are announced by a notice and fetched by sync. Default 8 192. */
  maxGossipMessage?: number;
  /** Most peers the catalog holds; beyond, the least useful are evicted. Default 10 000. */
  maxPeers?: number;
  /** Most bytes of signed entries the catalog holds. Default 64 MiB. */
  maxCatalogBytes?: number;
  /**
   * New peers a second a full catalog takes in, each evicting the least
   * useful peer; beyond, newcomers are refused before their signatures are
   * checked (neighbours and connected peers always get in). Default 100.
   */
  maxCatalogChurn?: number;
  /**
   * Most bytes of entries one sync message carries; the rest follows in later
   * syncs. Default 1 MiB.
   */
  maxSyncBytes?: number;
  /** Inbound gossip bytes per second accepted from one peer; beyond, its messages are dropped. Default 1 MiB. */
  maxGossipRate?: number;
  /** Inbound sync bytes per second accepted from one peer; beyond, its syncs are refused. Default 4 MiB. */
  maxSyncRate?: number;
  /**
   * Signatures of new entries verified per second for what one peer sends
   * (gossip, sync pushes and sync replies); beyond, its entries are neither
   * verified nor forwarded, and syncs bring them later. Bounds the CPU a peer
   * with endless valid made-up entries costs. Default 4 000.
   */
  maxVerifyRate?: number;
  /** Gossip tuning (HyParView views and timers, Plumtree timers and mode). */
  gossip?: Partial<HyParViewConfig & PlumtreeConfig>;
  /** Region this node runs in (entry `placement`, tag `region:<region>`). */
  region?: string;
  /** Zone within the region (entry `placement`, tag `zone:<zone>`). */
  zone?: string;
  /** Geographic location of this node. */
  location?: GeoLocation;
  /** Tuning of the network coordinate. Default: serf's. */
  vivaldi?: Partial<VivaldiConfig>;
}

/** Every scalar option with its default applied. */
export type ResolvedOptions = Required<
  Omit<
    DiscoveryOptions,
    | "bootstrap"
    | "tags"
    | "sources"
    | "gossip"
    | "addresses"
    | "extraAddresses"
    | "region"
    | "zone"
    | "location"
    | "vivaldi"
  >
>;

/** Applies the defaults of {@linkcode DiscoveryOptions}. */
export function resolveOptions(o: DiscoveryOptions): ResolvedOptions {
  return {
    purgeAfter: o.purgeAfter ?? 300_000,
    announceInterval: o.announceInterval ?? 45_000,
    announceJitter: o.announceJitter ?? 0.5,
    maxDrift: o.maxDrift ?? 50_000,
    syncInterval: o.syncInterval ?? 30_000,
    rttProbeInterval: o.rttProbeInterval ?? 30_000,
    requestTimeout: o.requestTimeout ?? 5_000,
    maxGossipMessage: o.maxGossipMessage ?? 8_192,
    departureWindow: o.departureWindow ?? 500,
    banDuration: o.banDuration ?? 60_000,
    maxPeers: o.maxPeers ?? 10_000,
    maxCatalogBytes: o.maxCatalogBytes ?? 64 << 20,
    maxCatalogChurn: o.maxCatalogChurn ?? 100,
    maxSyncBytes: o.maxSyncBytes ?? 1 << 20,
    maxGossipRate: o.maxGossipRate ?? 1 << 20,
    maxSyncRate: o.maxSyncRate ?? 4 << 20,
    maxVerifyRate: o.maxVerifyRate ?? 4_000,
  };
}
