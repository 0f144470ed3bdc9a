/**
 * KRPC messages (BEP 5): parsing and validation of datagrams, error codes,
 * and the compact node and peer encodings.
 *
 * @module
 */
import { DecodeError, latin1, MosaikError } from "@mosaik/transport";
import { type BDict, decodeBencode, isDict } from "./bencode.ts";
import { formatIP, parseIP } from "./bep42.ts";

/** KRPC error codes (BEP 5 and BEP 44). */
export const ErrorCode = {
  Generic: 201,
  Server: 202,
  Protocol: 203,
  MethodUnknown: 204,
  ValueTooBig: 205,
  InvalidSignature: 206,
  SaltTooBig: 207,
  CasMismatch: 301,
  SeqTooLow: 302,
} as const;

/** An error reply from a remote node (or one we send): `code` is a {@linkcode ErrorCode}. */
export class KrpcError extends MosaikError {
  /** Creates the error with its KRPC code. */
  constructor(readonly code: number, message: string) {
    super(`KRPC error ${code}: ${message}`);
  }
}

/** A datagram that is not a valid KRPC message. */
export class KrpcDecodeError extends DecodeError {}

/** A query (`y = q`). */
export interface QueryMessage {
  /** Discriminant. */
  y: "q";
  /** Transaction id. */
  t: Uint8Array;
  /** Method name. */
  q: string;
  /** Arguments; `id` is checked to be 20 bytes. */
  a: BDict;
  /** BEP 43: the sender is read-only (answer it, never add it to the table). */
  ro: boolean;
}

/** A response (`y = r`). */
export interface ResponseMessage {
  /** Discriminant. */
  y: "r";
  /** Transaction id. */
  t: Uint8Array;
  /** Return values; `id` is checked to be 20 bytes. */
  r: BDict;
  /** BEP 42: our address as the responder saw it (compact). */
  ip?: Uint8Array;
}

/** An error (`y = e`). */
export interface ErrorMessage {
  /** Discriminant. */
  y: "e";
  /** Transaction id. */
  t: Uint8Array;
  /** The error code. */
  code: number;
  /** The error text. */
  message: string;
}

/** Any KRPC message. */
export type KrpcMessage = QueryMessage | ResponseMessage | ErrorMessage;

const td = new TextDecoder();

function fail(message: string): never {
  throw new KrpcDecodeError(`krpc: ${message}`);
}

/** The node id (20 bytes) in a query's `a` or a response's `r`; throws when absent or malformed. */
function checkId(d: BDict): void {
  const id = d.id;
  if (!(id instanceof Uint8Array) || id.length !== 20) fail("missing or malformed node id");
}

/**
 * Parses one datagram. Throws a {@linkcode DecodeError} (bencode or shape) on
 * anything that is not a well-formed query, response or error.
 */
export function parseMessage(bytes: Uint8Array): KrpcMessage {
  const m = decodeBencode(bytes);
  if (!isDict(m)) fail("not a dictionary");
  const t = m.t;
  if (!(t instanceof Uint8Array) || t.length === 0 || t.length > 16) fail("bad transaction id");
  const y = m.y instanceof Uint8Array ? latin1(m.y) : "";
  if (y === "q") {
    if (!(m.q instanceof Uint8Array) || m.q.length > 64) fail("bad method");
    if (!isDict(m.a)) fail("missing arguments");
    checkId(m.a);
    return { y, t, q: latin1(m.q), a: m.a, ro: m.ro === 1 };
  }
  if (y === "r") {
    if (!isDict(m.r)) fail("missing return values");
    checkId(m.r);
    const ip = m.ip instanceof Uint8Array ? m.ip : undefined;
    return { y, t, r: m.r, ip };
  }
  if (y === "e") {
    const e = m.e;
    if (!Array.isArray(e) || typeof e[0] !== "number") fail("bad error list");
    return { y, t, code: e[0], message: e[1] instanceof Uint8Array ? td.decode(e[1]) : "" };
  }
  fail("unknown message type");
}

/** A node as sent in compact `nodes` (IPv4) or `nodes6` (IPv6, BEP 32). */
export interface CompactNode {
  /** 20-byte node id. */
  id: Uint8Array;
  /** IP address text. */
  host: string;
  /** UDP port. */
  port: number;
}

/** Compact address and port: 6 bytes for IPv4, 18 for IPv6; `undefined` for other hosts. */
export function encodePeer(host: string, port: number): Uint8Array | undefined {
  const ip = parseIP(host);
  if (!ip) return undefined;
  return new Uint8Array([...ip, port >> 8, port & 0xff]);
}

/** Decodes 6 (IPv4) or 18 (IPv6) compact bytes; throws on another length. */
export function decodePeer(bytes: Uint8Array): { host: string; port: number } {
  if (bytes.length !== 6 && bytes.length !== 18) fail("compact peer is not 6 or 18 bytes");
  const n = bytes.length - 2;
  return { host: formatIP(bytes.subarray(0, n)), port: bytes[n] << 8 | bytes[n + 1] };
}

/**
 * Encodes nodes of one family compactly: 26 bytes each for IPv4 (`nodes`),
 * 38 for IPv6 (`nodes6`); nodes of the other family are skipped.
 */
export function encodeNodes(nodes: Iterable<CompactNode>, ipv6 = false): Uint8Array {
  const size = ipv6 ? 38 : 26;
  const parts: Uint8Array[] = [];
  for (const n of nodes) {
    const p = encodePeer(n.host, n.port);
    if (p && p.length + 20 === size && n.id.length === 20) parts.push(n.id, p);
  }
  const out = new Uint8Array(parts.length / 2 * size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Decodes compact nodes (26-byte IPv4 entries, or 38-byte IPv6 ones with
 * `ipv6`); throws when the length is not a multiple. Port 0 entries are dropped.
 */
export function decodeNodes(bytes: Uint8Array, ipv6 = false): CompactNode[] {
  const size = ipv6 ? 38 : 26;
  if (bytes.length % size !== 0) fail(`compact nodes length is not a multiple of ${size}`);
  const out: CompactNode[] = [];
  for (let o = 0; o < bytes.length; o += size) {
    const { host, port } = decodePeer(bytes.subarray(o + 20, o + size));
    if (port !== 0) out.push({ id: bytes.slice(o, o + 20), host, port });
  }
  return out;
}
