/**
 * The shared vocabulary of every mosaik layer, in one place: the kinds of id
 * (network, tag, stream, group, store) and the one table of close codes.
 *
 * Transport defines them although most belong to higher layers, on purpose:
 * every package depends on transport and on nothing beside it, so this is
 * the one module they can all name without importing each other. An id
 * kind or close code a layer adds goes here, next to the others, so two
 * layers can never pick the same number or mean two things by one name.
 *
 * @module
 */
import { type Digest, digest } from "./ids.ts";

/** The id of a network: nodes only talk to nodes of the same network. */
export type NetworkId = Digest & { readonly __kind: "network" };
/** A tag a peer advertises in its entry (for example a role). */
export type Tag = Digest & { readonly __kind: "tag" };
/** The id of a stream, derived from its name and schema. */
export type StreamId = Digest & { readonly __kind: "stream" };
/** The id of a consensus group. */
export type GroupId = Digest & { readonly __kind: "group" };
/** The id of a replicated collection. */
export type StoreId = Digest & { readonly __kind: "store" };

/** Makes a {@linkcode NetworkId} from a name or 64 hex characters. */
export function networkId(name: string): NetworkId {
  return digest<NetworkId>(name);
}

/** Makes a {@linkcode Tag} from a name or 64 hex characters. */
export function tag(name: string): Tag {
  return digest<Tag>(name);
}

/**
 * Named close codes. Codes 1xx–4xx are connection-level; 10xxx belong to
 * streams, 30xxx to groups, 40xxx to relays; the last three digits follow HTTP where a
 * meaning matches.
 *
 * @example
 * ```ts
 * import { CloseCode, closeCodeName } from "@mosaik/transport";
 * console.assert(closeCodeName(CloseCode.DifferentNetwork) === "DifferentNetwork");
 * ```
 */
export const CloseCode = {
  /** The protocol completed normally. */
  Success: 200,
  /** The node shuts down cleanly. */
  GracefulShutdown: 204,
  /** The connection carried no channel for a while (`idleConnectionTimeout`); the next one dials again. */
  Idle: 205,
  /** The channel named a protocol this node does not serve. */
  InvalidProtocol: 100,
  /** The remote belongs to another network. */
  DifferentNetwork: 101,
  /** Cancelled locally. */
  Cancelled: 102,
  /** The remote ended a stream unexpectedly. */
  UnexpectedClose: 103,
  /** The two nodes' clocks differ by more than the identity handshake allows. */
  ClockSkew: 104,
  /** A frame could not be decoded, was too large or was truncated. */
  ProtocolViolation: 400,
  /** The acceptor does not know the caller (catalog sync first). */
  UnknownPeer: 401,
  /** The dialer's identity proof was missing, forged or replayed. */
  InvalidProof: 402,
  /** The handshake did not finish in time. */
  HandshakeTimeout: 408,
  /** A resource limit of the node was reached (see `ResourceLimits`). */
  ResourceLimit: 429,
  /** Traffic to this peer is blocked by a test fault. */
  Blocked: 499,
  /** Streams: the consumer is not allowed (predicate or ticket). */
  StreamNotAllowed: 10_403,
  /** Streams: no such stream is produced here. */
  StreamNotFound: 10_404,
  /** Streams: a ticket the subscription relied on expired. */
  StreamTicketExpired: 10_410,
  /** Streams: the consumer lagged and was disconnected. */
  StreamTooSlow: 10_413,
  /** Streams: the producer has no capacity for another consumer. */
  StreamNoCapacity: 10_509,
  /** Groups: the bond handshake was malformed. */
  GroupInvalidHandshake: 30_400,
  /** Groups: the peer is not allowed in the group. */
  GroupNotAllowed: 30_403,
  /** Groups: no such group on this node. */
  GroupNotFound: 30_404,
  /** Groups: the bond proof was wrong. */
  GroupInvalidProof: 30_405,
  /** Groups: the bond timed out. */
  GroupTimeout: 30_408,
  /** Groups: the two members are already bonded. */
  GroupAlreadyBonded: 30_429,
  /** Relay: the target holds no reservation here. */
  RelayNoReservation: 40_404,
  /** Relay: the target did not take the circuit in time. */
  RelayTimeout: 40_408,
  /** Relay: too many reservations or circuits. */
  RelayLimit: 40_429,
} as const;

/** One of the numbers in {@linkcode CloseCode}. */
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

const NAMES = new Map<number, string>(Object.entries(CloseCode).map(([k, v]) => [v, k]));

/** The name of a close code, or `"Unknown(<code>)"`. */
export function closeCodeName(code: number): string {
  return NAMES.get(code) ?? `Unknown(${code})`;
}

/** Why a connection or channel closed. */
export interface CloseInfo {
  /** The close code (see {@linkcode CloseCode}). */
  code: number;
  /** Free text from the side that closed. */
  reason: string;
}
