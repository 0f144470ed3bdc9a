/**
 * The small slice of discovery that streams need, and the {@linkcode PeerInfo}
 * that `require` predicates and ticket validators see. `Discovery` from
 * `@mosaik/discovery` satisfies {@linkcode StreamsDiscovery} structurally;
 * {@linkcode StaticDiscovery} satisfies it with a fixed peer list.
 *
 * @module
 */
import {
  type NetworkId,
  type PeerId,
  type StreamId,
  type Tag,
  tag as makeTag,
} from "@mosaik/transport";

/** An opaque credential a peer attaches to its entry (made by `@mosaik/tee`, JWT issuers, ...). */
export interface StreamsTicket {
  /** Which kind of ticket this is (validators look at their own kind). */
  readonly kind: string;
  /** The ticket itself. */
  readonly data: Uint8Array;
  /** When it stops being valid (ms since the epoch), if it says. */
  readonly expiresAt?: number;
}

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
  readonly tickets?: readonly StreamsTicket[];
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

/**
 * What a ticket validator answers: `false` (reject), `true` (valid for as
 * long as the peer stays), or an object: `{ ok?, expiresAt? }` (`ok`
 * defaults to true; with `expiresAt`, ms since the epoch, the subscription is
 * closed with `StreamNotAllowed` at that time). `@mosaik/tee`'s verdicts fit.
 */
export type TicketVerdict = boolean | { readonly ok?: boolean; readonly expiresAt?: number };

/** What a ticket validator reads: the peer and the tickets of its entry. */
export interface TicketHolder {
  /** The peer presenting the tickets. */
  readonly peerId: PeerId;
  /** Its tickets (empty when it has none). */
  readonly tickets: readonly StreamsTicket[];
  /** The network its entry belongs to, if known. */
  readonly network?: NetworkId;
}

/**
 * Checks the tickets of a remote peer. May be async (a TDX quote
 * verification, say); results are cached per entry version. A gate from
 * `@mosaik/tee`'s `requireTicket(...)` plugs in as is: when the function has
 * a `check` method, streams call that to learn the expiry.
 *
 * @example
 * ```ts ignore
 * const onlyAlice: TicketValidator = (holder) =>
 *   holder.tickets.some((t) => t.kind === "name" && new TextDecoder().decode(t.data) === "alice");
 * streams.produce(Prices, { requireTicket: onlyAlice });
 * ```
 */
export type TicketValidator = (
  holder: TicketHolder,
  peer: PeerInfo,
) => TicketVerdict | Promise<TicketVerdict>;

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

/** Runs validators (all must pass); returns `false` or the earliest expiry (`undefined` = none). */
export async function checkTicketValidators(
  validators: readonly TicketValidator[],
  peer: PeerInfo,
): Promise<false | { expiresAt: number | undefined }> {
  const holder: TicketHolder = {
    peerId: peer.peerId,
    tickets: peer.entry.tickets ?? [],
    ...(peer.entry.network === undefined ? {} : { network: peer.entry.network }),
  };
  let earliest: number | undefined;
  for (const validator of validators) {
    let verdict: TicketVerdict;
    try {
      const check = (validator as { check?: unknown }).check;
      verdict = typeof check === "function"
        ? await (check as (h: TicketHolder) => Promise<TicketVerdict>).call(validator, holder)
        : await validator(holder, peer);
    } catch {
      return false;
    }
    if (verdict === false) return false;
    if (verdict === true) continue;
    if (verdict.ok === false) return false;
    if (verdict.expiresAt !== undefined) {
      if (verdict.expiresAt <= Date.now()) return false;
      earliest = earliest === undefined ? verdict.expiresAt : Math.min(earliest, verdict.expiresAt);
    }
  }
  return { expiresAt: earliest };
}
