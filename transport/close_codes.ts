/**
 * The one table of application close codes, shared by every protocol. A
 * connection or channel closed with a code tells the remote why.
 *
 * @module
 */

/**
 * Named close codes. Codes 1xx–4xx are connection-level; 10xxx belong to
 * streams, 30xxx to groups; the last three digits follow HTTP where a
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
  /** The channel named a protocol this node does not serve. */
  InvalidProtocol: 100,
  /** The remote belongs to another network. */
  DifferentNetwork: 101,
  /** Cancelled locally. */
  Cancelled: 102,
  /** The remote ended a stream unexpectedly. */
  UnexpectedClose: 103,
  /** A frame could not be decoded, was too large or was truncated. */
  ProtocolViolation: 400,
  /** The acceptor does not know the caller (catalog sync first). */
  UnknownPeer: 401,
  /** The dialer's identity proof was missing, forged or replayed. */
  InvalidProof: 402,
  /** The handshake did not finish in time. */
  HandshakeTimeout: 408,
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
