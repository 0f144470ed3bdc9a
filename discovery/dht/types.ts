/**
 * The public shapes of the DHT node: options, contacts, lookup and store
 * results, counters.
 *
 * @module
 */
import type { BDict } from "./bencode.ts";
import type { KrpcError } from "./krpc.ts";

/**
 * Public Mainline routers, the default bootstrap list. Nothing in this
 * repository's tests or benches contacts them: they pass local lists and run
 * with `--allow-net` limited to loopback.
 */
export const PUBLIC_ROUTERS: readonly string[] = [
  "router.bittorrent.com:6881",
  "router.utorrent.com:6881",
  "dht.transmissionbt.com:6881",
];

/** Options of {@linkcode DhtNode.create}. */
export interface DhtNodeOptions {
  /** Address to bind the UDP socket to. Default `"0.0.0.0"`. */
  hostname?: string;
  /** UDP port. Default 0 (any free port). */
  port?: number;
  /** Routers to bootstrap from, as `host:port`. Default {@linkcode PUBLIC_ROUTERS}. */
  bootstrap?: readonly string[];
  /** Node id (20 bytes). Default: random, BEP 42-valid once the external address is known. */
  id?: Uint8Array;
  /** Bucket size and lookup width. Default 8 (BEP 5). */
  k?: number;
  /** Parallel queries per lookup. Default 3. */
  alpha?: number;
  /** Milliseconds before a query times out. Default 1000. */
  timeout?: number;
  /** Most items (BEP 44) kept for others. Default 1000. */
  maxItems?: number;
  /** Most infohashes with announced peers kept for others. Default 1000. */
  maxInfohashes?: number;
  /** Most of our queries in flight at once; more fail at once. Default 512. */
  maxInflight?: number;
  /**
   * Contacts saved from an earlier run ({@linkcode DhtNode.contacts}) to seed
   * the routing table, so a restart can join without the routers.
   */
  nodes?: readonly Contact[];
}

/** A node in the routing table or found by a lookup. */
export interface Contact {
  /** 20-byte node id. */
  id: Uint8Array;
  /** IPv4 address. */
  host: string;
  /** UDP port. */
  port: number;
}

/** A node that answered during a lookup, with its write token if it gave one. */
export interface Responder extends Contact {
  /** Token for `announce_peer`/`put`, when the node returned one. */
  token?: Uint8Array;
  /** The response (return values). */
  response: BDict;
}

/** What a lookup found. */
export interface LookupResult {
  /** The closest responders (at most k), closest first. */
  closest: Responder[];
  /** How many nodes were queried. */
  queried: number;
}

/** Counters a node keeps; malformed input is counted here and otherwise dropped. */
export interface DhtStats {
  /** Datagrams received. */
  received: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams that failed to decode or had a bad shape (dropped). */
  malformed: number;
  /** Responses nobody waited for (dropped). */
  unexpected: number;
  /** Queries answered (with a response or an error). */
  answered: number;
  /** Our queries that timed out. */
  timeouts: number;
  /** Sends that failed (for example denied by permissions). */
  sendErrors: number;
  /** Items that failed signature or target checks (dropped). */
  invalidItems: number;
  /** Ed25519 signature verifications performed (gets and puts). */
  signatureChecks: number;
}

/** Result of a put or an announce. */
export interface StoreResult {
  /** The 20-byte target or infohash. */
  target: Uint8Array;
  /** How many nodes acknowledged. */
  stored: number;
  /** Error replies, for example {@linkcode ErrorCode.CasMismatch}. */
  errors: KrpcError[];
  /** Nodes queried by the lookup before the store. */
  queried: number;
}

/** Options of {@linkcode DhtNode.getMutable}. */
export interface GetMutableOptions {
  /** Salt the item was put with. */
  salt?: Uint8Array;
  /**
   * Stop as soon as the this-many closest nodes found so far have all
   * answered with the newest verified item. Default 3; `Infinity` runs the
   * whole lookup.
   */
  quorum?: number;
}

/** Options of {@linkcode DhtNode.putMutable}. */
export interface PutMutableOptions {
  /** Compare-and-swap: only replace an item whose current seq is this. */
  cas?: number;
}

/** A handler for a query method (see {@linkcode DhtNode.handle}). */
export type QueryHandler = (
  args: BDict,
  from: { host: string; port: number },
) => BDict | KrpcError;
