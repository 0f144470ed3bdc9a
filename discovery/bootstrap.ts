/**
 * Hooks for bootstrap sources: pluggable ways for a node to find its first
 * peers (explicit addresses, mDNS on the LAN, the Mainline DHT, ...).
 *
 * @module
 */
import type { NetworkId, SecretKey } from "@mosaik/transport";

/**
 * What {@linkcode Discovery} hands to a {@linkcode BootstrapSource} when it
 * starts it. A source calls {@linkcode BootstrapContext.addPeer} for every
 * peer address it finds; discovery dials it, syncs catalogs and joins the
 * gossip overlay through it.
 */
export interface BootstrapContext {
  /** The network the node belongs to. */
  networkId: NetworkId;
  /** The node's identity (a source may sign records with it). */
  secretKey: SecretKey;
  /** The node's own QUIC endpoint addresses, as `host:port`. */
  localAddresses(): string[];
  /**
   * The address the QUIC endpoint is bound to (`0.0.0.0:port` or `[::]:port`
   * when it listens on every interface), so a source can bind alike.
   */
  listenAddress?: string;
  /** How many other peers the catalog currently holds (to poll less when connected). */
  peerCount(): number;
  /** Offers a peer address `"<peerId>@host:port"` to discovery. Unknown or bad ones are ignored. */
  addPeer(address: string): void;
  /** Aborted when discovery closes; sources stop their work then. */
  signal: AbortSignal;
}

/** How a bootstrap source is doing, for status pages and metrics. */
export interface SourceStatus {
  /**
   * `"starting"` before its first round, `"running"` when it works,
   * `"unreachable"` when it runs but reaches nobody (no DHT router answered),
   * `"disabled"` when it could not start (a denied permission, no socket).
   */
  state: "starting" | "running" | "unreachable" | "disabled";
  /** Why, when not running. */
  reason?: string;
}

/** A source's status with its name, from {@linkcode Discovery.sources}. */
export interface SourceReport extends SourceStatus {
  /** The source's name (`"dht"`, `"mdns"`, ...). */
  name: string;
}

/**
 * A source of bootstrap peers. Discovery calls {@linkcode BootstrapSource.start}
 * once after the endpoint is up and {@linkcode BootstrapSource.close} when it
 * closes.
 *
 * @example
 * ```ts
 * import type { BootstrapContext, BootstrapSource } from "@mosaik/discovery";
 * // A source that offers a fixed list of peers.
 * function fixed(addresses: string[]): BootstrapSource {
 *   return {
 *     name: "fixed",
 *     start(ctx: BootstrapContext) {
 *       for (const a of addresses) ctx.addPeer(a);
 *     },
 *     close: () => Promise.resolve(),
 *   };
 * }
 * ```
 */
export interface BootstrapSource {
  /** A short name for logs and stats (`"dht"`, `"mdns"`, ...). */
  readonly name: string;
  /** Starts finding peers; may return before it finds any. */
  start(ctx: BootstrapContext): void | Promise<void>;
  /** Stops the source and releases its resources. */
  close(): Promise<void>;
  /** How it is doing; a source without it counts as running. */
  status?(): SourceStatus;
}
