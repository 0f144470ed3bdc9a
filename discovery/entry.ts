/**
 * Signed peer entries: what every peer announces about itself (graceful
 * departures are in `departure.ts`).
 *
 * An entry travels as MessagePack `[body, signature]` where `body` is the
 * canonical MessagePack encoding of the entry (sets sorted, duplicates
 * removed) and `signature` is the peer's Ed25519 signature over `body`.
 * Decoding always verifies, so an unverified entry never exists in memory.
 *
 * @module
 */
import {
  copyBytes,
  decode,
  DecodeError,
  type Digest,
  digestBytes,
  dropOldest,
  encode,
  equalBytes,
  type GroupId,
  latin1,
  type NetworkId,
  type PeerId,
  peerIdFromBytes,
  peerIdToBytes,
  type SecretKey,
  type StreamId,
  type Tag,
  type Ticket,
  toHex,
  verify,
} from "@mosaik/transport";
import { array, bytes, text, uint } from "./_check.ts";
import { Reader } from "./_reader.ts";
import { decodePlacement, encodePlacement, type Placement } from "./placement.ts";
import { type Coordinate, decodeCoordinate, encodeCoordinate } from "./vivaldi.ts";

/**
 * The version of an entry: `start` is the unix ms at which the peer's run
 * began, `counter` grows with every update (it is also a wall-clock ms
 * timestamp: `max(previous + 1, now)`). Compared `start` first, so a
 * restarted peer always beats its previous run.
 */
export interface EntryVersion {
  /** Unix ms at which the peer's run started. */
  readonly start: number;
  /** Update counter, never behind the wall clock at the moment of the update. */
  readonly counter: number;
}

/** What a peer announces about itself. Entries handed out by the catalog are verified and frozen. */
export interface PeerEntry {
  /** The network the peer belongs to. */
  readonly network: NetworkId;
  /** The peer's id (its Ed25519 public key). */
  readonly peerId: PeerId;
  /** The entry's version; newer wins. */
  readonly version: EntryVersion;
  /** `host:port` addresses of the peer's QUIC endpoint. */
  readonly addresses: readonly string[];
  /** Tags the peer advertises (sorted). */
  readonly tags: readonly Tag[];
  /** Streams the peer produces (sorted). */
  readonly streams: readonly StreamId[];
  /** Streams the peer consumes (sorted), if any: who wants which data, for diagnostics. */
  readonly consumes?: readonly StreamId[];
  /** Groups the peer is a member of (sorted). */
  readonly groups: readonly GroupId[];
  /** The peer's tickets, one per kind (sorted by kind). */
  readonly tickets: readonly Ticket[];
  /** Where the peer says it runs, if it said. */
  readonly placement?: Placement;
  /** The peer's network coordinate when it signed the entry. */
  readonly coordinate?: Coordinate;
}

/** A verified entry together with its wire bytes (what gossip and sync carry). */
export interface SignedPeerEntry {
  /** The verified, frozen entry. */
  readonly entry: PeerEntry;
  /** The encoded `[body, signature]`. */
  readonly bytes: Uint8Array;
}

/** Why an entry or departure was refused; used as the key of the drop counters. */
export type RejectReason =
  | "undecodable"
  | "bad-signature"
  | "wrong-network"
  | "older-version"
  | "expired"
  | "future-version"
  | "too-large";

/** An entry or departure was refused; {@linkcode InvalidEntryError.reason} says why. */
export class InvalidEntryError extends DecodeError {
  /** Creates the error. */
  constructor(readonly reason: RejectReason, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Limits on what a decoded entry may hold. */
export const ENTRY_LIMITS: {
  readonly maxBytes: number;
  readonly maxAddresses: number;
  readonly maxIds: number;
  readonly maxTickets: number;
  readonly maxTicketBytes: number;
} = {
  maxBytes: 256 * 1024,
  maxAddresses: 16,
  maxIds: 4096,
  maxTickets: 32,
  maxTicketBytes: 64 * 1024,
};

const ENTRY_DOMAIN = "mosaik/discovery/entry/1";

/** Compares versions: negative if `a` is older than `b`, 0 if equal, positive if newer. */
export function compareVersions(a: EntryVersion, b: EntryVersion): number {
  return a.start !== b.start ? a.start - b.start : a.counter - b.counter;
}

/** The version after `v`: the counter becomes `max(counter + 1, now)`. */
export function nextVersion(v: EntryVersion, now: number = Date.now()): EntryVersion {
  return { start: v.start, counter: Math.max(v.counter + 1, now) };
}

function sortedUnique<T extends string>(xs: readonly T[]): T[] {
  return [...new Set(xs)].sort();
}

/** Returns the entry in canonical form: sets sorted and de-duplicated, tickets one per kind. */
export function canonicalEntry(entry: PeerEntry): PeerEntry {
  const tickets = new Map<string, Ticket>();
  for (const t of entry.tickets) tickets.set(t.kind, t);
  return {
    network: entry.network,
    peerId: entry.peerId,
    version: { start: entry.version.start, counter: entry.version.counter },
    addresses: sortedUnique(entry.addresses),
    tags: sortedUnique(entry.tags),
    streams: sortedUnique(entry.streams),
    ...(entry.consumes?.length ? { consumes: sortedUnique(entry.consumes) } : {}),
    groups: sortedUnique(entry.groups),
    tickets: [...tickets.keys()].sort().map((k) => tickets.get(k)!),
    ...(entry.placement && { placement: entry.placement }),
    ...(entry.coordinate && { coordinate: entry.coordinate }),
  };
}

function freeze(entry: PeerEntry): PeerEntry {
  Object.freeze(entry.version);
  Object.freeze(entry.addresses);
  Object.freeze(entry.tags);
  Object.freeze(entry.streams);
  if (entry.consumes) Object.freeze(entry.consumes);
  Object.freeze(entry.groups);
  for (const t of entry.tickets) Object.freeze(t);
  Object.freeze(entry.tickets);
  if (entry.placement?.location) Object.freeze(entry.placement.location);
  if (entry.placement) Object.freeze(entry.placement);
  if (entry.coordinate) Object.freeze(entry.coordinate.vec);
  if (entry.coordinate) Object.freeze(entry.coordinate);
  return Object.freeze(entry);
}

/**
 * Signs an entry with the peer's key. The key must be the entry's peer.
 *
 * @example
 * ```ts
 * import { networkId, SecretKey } from "@mosaik/transport";
 * import { decodeSignedEntry, signEntry } from "@mosaik/discovery";
 * const key = SecretKey.generate();
 * const signed = signEntry(key, {
 *   network: networkId("demo"), peerId: key.peerId, version: { start: 1, counter: 1 },
 *   addresses: ["127.0.0.1:4433"], tags: [], streams: [], groups: [], tickets: [],
 * });
 * console.assert(decodeSignedEntry(signed.bytes).entry.peerId === key.peerId);
 * ```
 */
export function signEntry(key: SecretKey, entry: PeerEntry): SignedPeerEntry {
  if (key.peerId !== entry.peerId) throw new DecodeError("the key does not match the entry's peer");
  const e = canonicalEntry(entry);
  const fields: unknown[] = [
    ENTRY_DOMAIN,
    digestBytes(e.network),
    peerIdToBytes(e.peerId),
    e.version.start,
    e.version.counter,
    e.addresses,
    e.tags.map(digestBytes),
    e.streams.map(digestBytes),
    e.groups.map(digestBytes),
    e.tickets.map((t) => [t.kind, t.data, t.expiresAt ?? null]),
  ];
  if (e.placement || e.coordinate || e.consumes) {
    fields.push([
      e.placement ? encodePlacement(e.placement) : null,
      e.coordinate ? encodeCoordinate(e.coordinate) : null,
      ...(e.consumes ? [e.consumes.map(digestBytes)] : []),
    ]);
  }
  const body = encode(fields);
  return { entry: freeze(e), bytes: encode([body, key.sign(body)]) };
}

/**
 * One frozen empty list and one string per network for every decoded entry:
 * a catalog holds 10,000 entries, most with empty tags, streams, groups and
 * tickets, all of the same network.
 */
const EMPTY: never[] = Object.freeze([]) as never[];
let lastNetwork = { id: "" as NetworkId, bytes: new Uint8Array(0) };

function list<T>(xs: T[]): T[] {
  return xs.length === 0 ? EMPTY : xs;
}

/**
 * The network an entry or departure names: the last one's string again when
 * the bytes match (no hex per entry). Internal to discovery.
 */
export function networkField(v: unknown): NetworkId {
  const b = bytes(v, "network", 32);
  if (!equalBytes(b, lastNetwork.bytes)) {
    lastNetwork = { id: toHex(b) as NetworkId, bytes: b.slice() };
  }
  return lastNetwork.id;
}

function ids<T extends Digest>(v: unknown, what: string): T[] {
  const out = array(v, what, ENTRY_LIMITS.maxIds).map((x) => toHex(bytes(x, what, 32)) as T);
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1] >= out[i]) throw new DecodeError(`${what}: not sorted and unique`);
  }
  return list(out);
}

/** `[body, signature]` of a signed entry or departure, within the entry limits. Internal to discovery. */
export function envelope(raw: Uint8Array, what: string): [Uint8Array, Uint8Array] {
  if (raw.length > ENTRY_LIMITS.maxBytes) {
    throw new InvalidEntryError("too-large", `${what} of ${raw.length} bytes is too large`);
  }
  try {
    const outer = array(decode(raw), what, 2, 2);
    return [
      bytes(outer[0], `${what} body`, undefined, ENTRY_LIMITS.maxBytes),
      bytes(outer[1], "signature", 64),
    ];
  } catch (cause) {
    throw new InvalidEntryError("undecodable", `undecodable ${what}`, { cause });
  }
}

/** An entry parsed from its wire bytes but not yet verified. Internal to discovery. */
export interface ParsedEntry {
  /** The entry as claimed (unverified). */
  readonly entry: PeerEntry;
  /** The signed body. */
  readonly body: Uint8Array;
  /** The claimed signature. */
  readonly signature: Uint8Array;
  /** The claimed signer's public key. */
  readonly key: Uint8Array;
  /** The wire bytes. */
  readonly raw: Uint8Array;
}

/** The optional 11th field: `[placement | null, coordinate | null, consumes?]`. */
function extras(
  v: unknown,
): { placement?: Placement; coordinate?: Coordinate; consumes?: StreamId[] } {
  const [placement, coordinate, consumes] = array(v, "entry extras", 3, 2);
  return {
    ...(placement !== null && { placement: decodePlacement(placement) }),
    ...(coordinate !== null && { coordinate: decodeCoordinate(coordinate) }),
    ...(consumes !== undefined && { consumes: ids<StreamId>(consumes, "consumes") }),
  };
}

/**
 * The peer an entry claims to be of, read from its bytes without decoding
 * the rest; `undefined` if they do not start like an entry. Lets a full
 * catalog refuse newcomers for a fraction of a parse. Internal to discovery.
 */
export function claimedPeer(raw: Uint8Array): PeerId | undefined {
  try {
    const outer = new Reader(raw);
    outer.array("entry", 2, 2);
    const body = new Reader(outer.bin("entry body"));
    body.array("entry", 11, 10);
    body.skipStr("domain");
    body.bin("network");
    const key = body.bin("peer id");
    return key.length === 32 ? peerIdFromBytes(key) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses an entry without verifying its signature, so that cheap checks
 * (known version, network, expiry) can run first. Not exported from the
 * package: only {@linkcode decodeSignedEntry} and {@linkcode verifyEntry}
 * hand out entries.
 */
export function parseEntry(raw: Uint8Array): ParsedEntry {
  // Views of the frame it arrived in until verified: only a verified entry
  // gets its own copy (see verified), and its tickets theirs.
  const [body, signature] = envelope(raw, "entry");
  try {
    const f = array(decode(body), "entry", 11, 10);
    if (f[0] !== ENTRY_DOMAIN) throw new DecodeError("not an entry");
    const key = bytes(f[2], "peer id", 32);
    const addresses = array(f[5], "addresses", ENTRY_LIMITS.maxAddresses).map((a) =>
      text(a, "address", 300)
    );
    const tickets = list(
      array(f[9], "tickets", ENTRY_LIMITS.maxTickets).map((t) => {
        const [kind, data, expiresAt] = array(t, "ticket", 3, 3);
        const ticket: Ticket = {
          kind: text(kind, "ticket kind", 64),
          data: copyBytes(bytes(data, "ticket data", undefined, ENTRY_LIMITS.maxTicketBytes)),
        };
        return expiresAt === null ? ticket : { ...ticket, expiresAt: uint(expiresAt, "expiry") };
      }),
    );
    const entry: PeerEntry = {
      network: networkField(f[1]),
      peerId: peerIdFromBytes(key),
      version: { start: uint(f[3], "start"), counter: uint(f[4], "counter") },
      addresses,
      tags: ids<Tag>(f[6], "tags"),
      streams: ids<StreamId>(f[7], "streams"),
      groups: ids<GroupId>(f[8], "groups"),
      tickets,
      ...(f.length > 10 && extras(f[10])),
    };
    return { entry, body, signature, key, raw };
  } catch (cause) {
    throw new InvalidEntryError("undecodable", "undecodable entry", { cause });
  }
}

/**
 * Decodes and verifies an entry from its wire bytes. Throws
 * {@linkcode InvalidEntryError} (reason `undecodable`, `too-large` or
 * `bad-signature`) on anything else.
 */
export function decodeSignedEntry(raw: Uint8Array): SignedPeerEntry {
  return verifyParsedEntrySync(parseEntry(raw));
}

/**
 * Wire bytes of entries whose signature this process verified, most recent
 * last. Every node of a process receives every other node's entry: several
 * nodes in one process (tests, simulations, a host running many) verify
 * each once, not once per node (200 nodes: 40,000 verifications, 1.6 s of
 * CPU). The key is the whole `[body, signature]`, so nothing but those
 * exact bytes is ever taken as verified. Only entries of usual size are
 * kept (at most 2,048 of 1 KiB): large ones are rare, and 2,048 entries
 * of 256 KiB would hold 512 MiB.
 */
const verifiedBytes = new Set<string>();
const VERIFIED_CACHE = 2048;
const VERIFIED_MAX_BYTES = 1024;

function signatureValid(p: ParsedEntry): boolean {
  const cached = p.raw.length <= VERIFIED_MAX_BYTES;
  const key = cached ? latin1(p.raw) : "";
  if (cached && verifiedBytes.has(key)) return true;
  if (!verify(p.key, p.body, p.signature)) return false;
  if (!cached) return true;
  dropOldest(verifiedBytes, VERIFIED_CACHE - 1);
  verifiedBytes.add(key);
  return true;
}

/** Verifies an entry from {@linkcode parseEntry} synchronously. Internal to discovery. */
export function verifyParsedEntrySync(p: ParsedEntry): SignedPeerEntry {
  if (!signatureValid(p)) {
    throw new InvalidEntryError("bad-signature", `bad signature on the entry of ${p.entry.peerId}`);
  }
  return verified(p);
}

/**
 * A verified entry with its own copy of the wire bytes (it outlives the
 * frame they arrived in); small ones share slabs rather than a buffer each.
 */
function verified(p: ParsedEntry): SignedPeerEntry {
  return { entry: freeze(p.entry), bytes: copyBytes(p.raw) };
}

/**
 * Decodes and verifies an entry like {@linkcode decodeSignedEntry}, but
 * as a promise.
 */
export function verifyEntry(raw: Uint8Array): Promise<SignedPeerEntry> {
  try {
    return verifyParsedEntry(parseEntry(raw));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Verifies an entry from {@linkcode parseEntry}; rejects with {@linkcode InvalidEntryError}. Internal to discovery. */
export function verifyParsedEntry(p: ParsedEntry): Promise<SignedPeerEntry> {
  if (!signatureValid(p)) {
    return Promise.reject(
      new InvalidEntryError("bad-signature", `bad signature on the entry of ${p.entry.peerId}`),
    );
  }
  return Promise.resolve(verified(p));
}
