/**
 * Counters of a {@linkcode Discovery}, a plain object for metrics.
 *
 * @module
 */

/** Counters of a {@linkcode Discovery}, a plain object for metrics. */
export interface DiscoveryStats {
  /** Gossip, sync and ping messages sent, by kind. */
  sent: Record<string, number>;
  /** Gossip, sync and ping messages received, by kind. */
  received: Record<string, number>;
  /** Entries, departures and messages dropped, by reason. */
  dropped: Record<string, number>;
  /** Catalog syncs completed (either side). */
  syncs: number;
  /** Catalog syncs that failed. */
  syncFailures: number;
  /** Broadcasts originated by this node. */
  broadcasts: number;
  /** Bytes of gossip messages sent (membership and broadcast). */
  gossipBytesSent: number;
  /** Gossip messages dropped because their sender exceeded `maxGossipRate`. */
  gossipRateLimited: number;
  /** Sync requests or replies refused because their peer exceeded `maxSyncRate`. */
  syncRateLimited: number;
  /** Entries left unverified because their sender exceeded `maxVerifyRate` (syncs bring them later). */
  entriesDeferred: number;
  /** Catalog entries evicted to stay within `maxPeers`/`maxCatalogBytes`. */
  catalogEvicted: number;
  /** New entries refused because the catalog was full of peers it keeps. */
  catalogFull: number;
  /** Peers banned for misbehaving. */
  bans: number;
}

/** Fresh zeroed counters. */
export function newStats(): DiscoveryStats {
  return {
    sent: {},
    received: {},
    dropped: {},
    syncs: 0,
    syncFailures: 0,
    broadcasts: 0,
    gossipBytesSent: 0,
    gossipRateLimited: 0,
    syncRateLimited: 0,
    entriesDeferred: 0,
    catalogEvicted: 0,
    catalogFull: 0,
    bans: 0,
  };
}

/** Adds one to `r[key]`. */
export function bump(r: Record<string, number>, key: string): void {
  r[key] = (r[key] ?? 0) + 1;
}
