/**
 * The small slice of discovery that streams need, and the {@linkcode PeerInfo}
 * that `require` predicates see. `Discovery` from
 * `@mosaik/discovery` satisfies {@linkcode StreamsDiscovery} structurally;
 * {@linkcode StaticDiscovery} satisfies it with a fixed peer list.
 *
 * @module
 */
import {
  checkTickets,
  type NetworkId,
  type PeerId,
  type StreamId,
  type Tag,
  tag as makeTag,
  type Ticket,
  type TicketValidator,
  type TicketVerdict,
} from "@mosaik/transport";

/** The part of a (verified) peer entry streams look at. */
export interface StreamsPeerEntry {
  /** The peer. */
  readonly peerId: PeerId;
  /** The network the entry belongs to, if it says. */
  readonly network?: NetworkId;
  /** `host:port` addresses of the peer's QUIC endpoint. */
  readonly addresses: readonly string[];
  /** Tags the peer advertises. */
  readonly tags: readonly Tag[];
  /** Streams the peer produces. */
  readonly streams: readonly StreamId[];
  /** Tickets the peer carries. */
  readonly tickets?: readonly Ticket[];
  /** Entry version; a change means the peer re-announced itself. */
  readonly version?: { readonly start: number; readonly counter: number };
  /** Where the peer says it runs. */
  readonly placement?: {
    readonly region?: string;
    readonly zone?: string;
    readonly location?: { readonly lat: number; readonly lon: number };
  };
}

/** A change in the catalog. */
export interface StreamsCatalogEvent {
  /** `"discovered" | "updated" | "departed" | "expired"`. */
  readonly type: string;
  /** The entry concerned. */
  readonly entry: StreamsPeerEntry;
}

/** The catalog of other peers, as streams use it. */
export interface StreamsCatalog {
  /** The latest entry of a peer, if known. */
  get(peer: PeerId): StreamsPeerEntry | undefined;
  /** Peers advertising a stream. */
  withStream(id: StreamId): StreamsPeerEntry[];
  /** Calls `fn` on every change; returns the unsubscribe function. */
  subscribe(fn: (event: StreamsCatalogEvent) => void): () => void;
}

/** What {@linkcode Streams} needs from discovery. */
export interface StreamsDiscovery {
  /** Other peers. */
  readonly catalog: StreamsCatalog;
  /** This node's own entry: producers add and remove their stream ids. */
  readonly local: {
    /** Advertises a stream this node produces. */
    addStream(id: StreamId): void;
    /** Stops advertising a stream. */
    removeStream(id: StreamId): void;
    /** Advertises a stream this node consumes (diagnostics draw who wants what). */
    addConsumedStream?(id: StreamId): void;
    /** Stops advertising a consumed stream. */
    removeConsumedStream?(id: StreamId): void;
    /** The entry itself (`prefer: "region"` compares placements with it). */
    readonly entry?: StreamsPeerEntry;
  };
  /** Round-trip time to a peer in ms, measured or predicted from network coordinates. */
  rtt?(
    peer: PeerId,
  ): { readonly ms: number; readonly source: "measured" | "predicted" } | undefined;
  /** Takes an RTT sample streams measured (so discovery's estimate benefits). */
  recordRtt?(peer: PeerId, ms: number): void;
  /**
   * Exchanges catalogs with a peer both ways. Consumers call it when a
   * producer answers `UnknownPeer`, before retrying.
   */
  syncWith?(peer: string): Promise<void>;
}

/**
 * A remote peer as a predicate sees it: its entry (the latest one from the
 * catalog) and the measured round-trip time.
 */
export interface PeerInfo {
  /** The peer. */
  readonly peerId: PeerId;
  /** Its entry. */
  readonly entry: StreamsPeerEntry;
  /**
   * Round-trip time in ms. Streams measure it before evaluating `require`
   * (through discovery, or with a ping on the stream protocol), so it is
   * known whenever predicates run.
   */
  readonly rtt: number | undefined;
  /** Whether the entry carries the tag (a {@linkcode Tag} or a tag name). */
  hasTag(tag: Tag | string): boolean;
}

/** A condition over a remote peer; `require` options take one or a list (AND). */
export type PeerPredicate = (peer: PeerInfo) => boolean;

function asTag(t: Tag | string): Tag {
  return /^[0-9a-f]{64}$/.test(t) ? t as Tag : makeTag(t);
}

/** Builds the {@linkcode PeerInfo} of an entry. */
export function peerInfo(entry: StreamsPeerEntry, rtt: number | undefined): PeerInfo {
  return {
    peerId: entry.peerId,
    entry,
    rtt,
    hasTag: (t) => entry.tags.includes(asTag(t)),
  };
}

/**
 * A predicate: the peer carries every tag.
 *
 * @example
 * ```ts ignore
 * streams.consume(Prices, { require: hasTags("oracle") });
 * ```
 */
export function hasTags(...tags: (Tag | string)[]): PeerPredicate {
  const wanted = tags.map(asTag);
  return (peer) => wanted.every((t) => peer.entry.tags.includes(t));
}

/**
 * A predicate: the measured round-trip time is below `ms` (an unknown RTT
 * fails; streams measure it before asking).
 *
 * @example
 * ```ts ignore
 * streams.produce(Prices, { require: rttBelow(5) });
 * ```
 */
export function rttBelow(ms: number): PeerPredicate {
  return (peer) => peer.rtt !== undefined && peer.rtt < ms;
}

/**
 * A predicate: the peer declared one of `regions` (its entry's
 * `placement.region`, set with the `region` option of `Network.create`).
 *
 * @example
 * ```ts ignore
 * streams.consume(Prices, { require: inRegion("eu-west-1", "eu-central-1") });
 * ```
 */
export function inRegion(...regions: string[]): PeerPredicate {
  return (peer) => regions.includes(peer.entry.placement?.region as string);
}

/** A predicate: the peer declared one of `zones` (its entry's `placement.zone`). */
export function inZone(...zones: string[]): PeerPredicate {
  return (peer) => zones.includes(peer.entry.placement?.zone as string);
}

/** Whether every predicate holds; a predicate that throws counts as failed. */
export function allPass(
  predicates: readonly ((peer: PeerInfo) => boolean)[],
  peer: PeerInfo,
): boolean {
  try {
    return predicates.every((p) => p(peer));
  } catch {
    return false;
  }
}

/** Normalises tag names to {@linkcode Tag}s. */
export function toTags(tags: readonly (Tag | string)[] | undefined): Tag[] {
  return (tags ?? []).map(asTag);
}

/** A key that changes whenever the peer re-announces its entry. */
export function entryVersion(entry: StreamsPeerEntry): unknown {
  return entry.version ? `${entry.version.start}:${entry.version.counter}` : entry;
}

/**
 * Checks a peer's tickets against every validator (all must pass) for this
 * network; a verdict whose expiry already passed counts as a rejection.
 */
export async function checkPeerTickets(
  validators: readonly TicketValidator[],
  peer: PeerInfo,
  networkId: NetworkId,
): Promise<TicketVerdict> {
  const entry = peer.entry;
  const verdict = await checkTickets(validators, {
    peerId: peer.peerId,
    tickets: entry.tickets ?? [],
    ...(entry.network === undefined ? {} : { network: entry.network }),
  }, { networkId });
  if (verdict.ok && (verdict.expiresAt ?? Infinity) <= Date.now()) {
    return { ok: false, reason: "ticket expired" };
  }
  return verdict;
}
