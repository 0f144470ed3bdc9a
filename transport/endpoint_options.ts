/**
 * The options and counters of an {@linkcode Endpoint}.
 *
 * @module
 */
import type { NetworkId } from "./vocabulary.ts";
import type { SecretKey } from "./ids.ts";
import type { ResourceLimits } from "./limits.ts";

/** Options of {@linkcode Endpoint.create}. */
export interface EndpointOptions {
  /** The network this node belongs to; peers of other networks are refused. */
  networkId: NetworkId;
  /** The node's identity. Random when absent. */
  secretKey?: SecretKey;
  /** Address to bind. Default `"127.0.0.1"`. */
  hostname?: string;
  /** UDP port to bind. Default `0` (any free port). */
  port?: number;
  /** Largest frame accepted or sent, in bytes. Default 8 MiB. */
  maxFrameSize?: number;
  /**
   * Milliseconds allowed for a dial and for the identity handshake, each.
   * A dial the acceptor refuses for having too many handshakes under way is
   * tried again with backoff within this time. Default 5 000.
   */
  handshakeTimeout?: number;
  /** Milliseconds of silence before a connection is considered dead. Default 10 000. */
  idleTimeout?: number;
  /**
   * Milliseconds a connection may carry no channel before it is closed with
   * `CloseCode.Idle` (the next channel to that peer dials again): a node that
   * once talked to every peer of a large network does not keep them all, up
   * to `maxConnections`. Default 30 000; 0 keeps idle connections.
   */
  idleConnectionTimeout?: number;
  /**
   * Milliseconds a graceful close waits after finishing open channels, so
   * data already sent leaves before the connection closes. Default 25.
   */
  closeLinger?: number;
  /** Caps on what remotes can make this node hold; see {@linkcode ResourceLimits}. */
  limits?: Partial<ResourceLimits>;
}

/** Options of {@linkcode Endpoint.connect} and {@linkcode Endpoint.open}. */
export interface DialOptions {
  /**
   * Stops waiting when aborted: the call rejects at once with the signal's
   * reason (a dial shared with other callers goes on for them).
   */
  signal?: AbortSignal;
  /**
   * Dial a direct connection (at the addresses that are not relayed) even
   * when a relayed one is open: hole punching.
   */
  direct?: boolean;
}

/** Counters of an {@linkcode Endpoint}. */
export interface EndpointStats {
  /** Connections established, both directions. */
  connectionsOpened: number;
  /** Connections refused during the handshake, by close-code name. */
  refused: Record<string, number>;
  /** Incoming channels closed for naming an unknown protocol. */
  unknownProtocol: number;
}
