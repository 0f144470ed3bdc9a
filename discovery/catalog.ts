/**
 * The catalog: the latest verified entry of every other peer of the network,
 * with queries and an event stream. It is bounded (peers and bytes); when
 * full, a new entry evicts the least recently useful peer that is not kept,
 * for at most `maxChurn` new peers a second.
 *
 * @module
 */
import { dropOldest } from "@mosaik/transport";
import type { GroupId, NetworkId, PeerId, StreamId, Tag } from "@mosaik/transport";
import type { Departure } from "./departure.ts";
import {
  compareVersions,
  type EntryVersion,
  type PeerEntry,
  type RejectReason,
  type SignedPeerEntry,
} from "./entry.ts";
import { discoveryLog } from "./_log.ts";

/** A change to the catalog. */
export interface CatalogEvent {
  /**
   * `discovered`: a new peer; `updated`: a newer entry replaced an older one;
   * `departed`: the peer left on purpose (signed departure); `expired`: its
   * entry was not refreshed in time; `evicted`: it made room in a full
   * catalog.
   */
  readonly type: "discovered" | "updated" | "departed" | "expired" | "evicted";
  /** The entry concerned (for `departed`/`expired`/`evicted`, the last one known). */
  readonly entry: PeerEntry;
}

/** Options of a {@linkcode Catalog}. */
export interface CatalogOptions {
  /** An entry expires this many ms after its version's counter timestamp. */
  purgeAfter: number;
  /** Entries whose counter is more than this many ms in the future are refused. */
  maxDrift: number;
  /** Most peers held. Default 10 000. */
  maxPeers?: number;
  /** Most bytes of signed entries held. Default 64 MiB. */
  maxBytes?: number;
  /**
   * New peers a second a full catalog takes in, each evicting the least
   * useful peer (a second's worth may come at once). Beyond, newcomers are
   * refused (`catalog-full`) before anyone verifies them, so a flood of
   * made-up peers beyond the bound costs a cheap check each, not a
   * signature, an eviction and an event. Kept peers always get in.
   * Default 100.
   */
  maxChurn?: number;
  /**
   * Peers never evicted to make room (for example neighbours and connected
   * peers). Default: none.
   */
  keep?: (peer: PeerId) => boolean;
  /** The clock (unix ms); tests may replace it. */
  now?: () => number;
}

/**
 * The outcome of {@linkcode Catalog.upsert}: stored, already known, or why it
 * was refused (`catalog-full` when every held peer is kept, or a full
 * catalog took its `maxChurn` newcomers this second).
 */
export type UpsertResult = "discovered" | "updated" | "unchanged" | "catalog-full" | RejectReason;

interface Tombstone {
  version: EntryVersion;
  until: number;
}

/** How many kept peers an eviction passes over before refusing the newcomer. */
const EVICTION_SCAN = 64;

/**
 * Every other peer's latest verified entry. Queries never return expired
 * entries or the local peer.
 *
 * Eviction keeps what is worth keeping: entries of peers that proved useful
 * ({@linkcode Catalog.touch}: they answered or talked to us directly) are
 * evicted only after every never-useful one, least recently useful first,
 * and peers `keep` names are never evicted.
 *
 * @example
 * ```ts ignore
 * const off = discovery.catalog.subscribe((e) => console.log(e.type, e.entry.peerId));
 * discovery.catalog.withTag(tag("matcher"));
 * off();
 * ```
 */
export class Catalog {
  readonly #network: NetworkId;
  readonly #local: PeerId;
  readonly #options: CatalogOptions;
  readonly #now: () => number;
  readonly #maxPeers: number;
  readonly #maxBytes: number;
  readonly #maxChurn: number;
  /** Newcomers a full catalog may still take now, and when that was reckoned. */
  #churn: { tokens: number; at: number };
  readonly #entries = new Map<PeerId, SignedPeerEntry>();
  /** Never-useful peers, oldest first, then useful ones, least recently useful first. */
  readonly #cold = new Set<PeerId>();
  readonly #warm = new Set<PeerId>();
  readonly #tombstones = new Map<PeerId, Tombstone>();
  readonly #listeners = new Set<(e: CatalogEvent) => void>();
  #bytes = 0;
  /** No entry expires before this (a lower bound, exact after a purge). */
  #firstExpiry = Infinity;

  /** Creates an empty catalog for `network`, never storing `local`. */
  constructor(network: NetworkId, local: PeerId, options: CatalogOptions) {
    this.#network = network;
    this.#local = local;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxPeers = options.maxPeers ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 << 20;
    this.#maxChurn = options.maxChurn ?? 100;
    this.#churn = { tokens: this.#maxChurn, at: this.#now() };
  }

  #live(s: SignedPeerEntry | undefined, now = this.#now()): s is SignedPeerEntry {
    // Before the first expiry nothing is expired: no look into the entry (a
    // sync reads one per summary item, and entries differ in shape).
    return s !== undefined && (now < this.#firstExpiry || !this.#expired(s, now));
  }

  #expiry(s: SignedPeerEntry): number {
    return s.entry.version.counter + this.#options.purgeAfter;
  }

  #expired(s: SignedPeerEntry, now: number): boolean {
    return this.#expiry(s) <= now;
  }

  /** The live entry of `peer`, if any. */
  get(peer: PeerId): PeerEntry | undefined {
    const s = this.#entries.get(peer);
    return this.#live(s) ? s.entry : undefined;
  }

  /** The live entry of `peer` with its wire bytes. */
  signed(peer: PeerId): SignedPeerEntry | undefined {
    const s = this.#entries.get(peer);
    return this.#live(s) ? s : undefined;
  }

  /** Every live entry with its wire bytes. */
  signedEntries(): SignedPeerEntry[] {
    const all = [...this.#entries.values()];
    const now = this.#now();
    return now < this.#firstExpiry ? all : all.filter((s) => this.#live(s, now));
  }

  /** Every other live peer's entry. */
  peers(): PeerEntry[] {
    return this.signedEntries().map((s) => s.entry);
  }

  /** Peers advertising `tag`. */
  withTag(tag: Tag): PeerEntry[] {
    return this.peers().filter((e) => e.tags.includes(tag));
  }

  /** Peers producing stream `id`. */
  withStream(id: StreamId): PeerEntry[] {
    return this.peers().filter((e) => e.streams.includes(id));
  }

  /** Peers that are members of group `id`. */
  withGroup(id: GroupId): PeerEntry[] {
    return this.peers().filter((e) => e.groups.includes(id));
  }

  /** How many other live peers the catalog holds (constant time while none expired). */
  get size(): number {
    return this.#now() < this.#firstExpiry ? this.#entries.size : this.signedEntries().length;
  }

  /** Bytes of the signed entries held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Calls `fn` on every change; returns the function that unsubscribes. */
  subscribe(fn: (e: CatalogEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #emit(type: CatalogEvent["type"], entry: PeerEntry): void {
    // No copy of the listeners per event: a Set's iteration survives deletions.
    for (const fn of this.#listeners) {
      try {
        fn({ type, entry });
      } catch (e) {
        discoveryLog.warn("catalog subscriber threw", e);
      }
    }
  }

  /**
   * Marks `peer` as useful now (it answered or talked to us directly): it is
   * evicted only after every peer that never was.
   */
  touch(peer: PeerId): void {
    if (!this.#entries.has(peer)) return;
    this.#cold.delete(peer);
    this.#warm.delete(peer);
    this.#warm.add(peer);
  }

  /**
   * Stores a verified entry if it is for this network, not expired, not too
   * far in the future and newer than what is known (or than the peer's
   * departure). Emits `discovered` or `updated`; may evict another peer
   * (emitting `evicted`) or refuse with `catalog-full`.
   */
  upsert(signed: SignedPeerEntry): UpsertResult {
    const e = signed.entry;
    const verdict = this.assess(e);
    if (verdict !== undefined) return verdict;
    const now = this.#now();
    const old = this.#entries.get(e.peerId);
    const live = this.#live(old, now);
    const grow = signed.bytes.length - (old?.bytes.length ?? 0);
    if (!old && this.#full(grow) && !this.keeps(e.peerId)) {
      if (this.#churnTokens() < 1) return "catalog-full";
      this.#churn.tokens--;
    }
    if (!this.#makeRoom(old ? 0 : 1, grow, e.peerId)) return "catalog-full";
    this.#tombstones.delete(e.peerId);
    this.#entries.set(e.peerId, signed);
    this.#bytes += grow;
    if (!this.#warm.has(e.peerId)) this.#cold.add(e.peerId);
    this.#firstExpiry = Math.min(this.#firstExpiry, this.#expiry(signed));
    const type = live ? "updated" : "discovered";
    this.#emit(type, e);
    return type;
  }

  /** Whether `peer` is never evicted (the `keep` option). */
  keeps(peer: PeerId): boolean {
    return this.#options.keep?.(peer) ?? false;
  }

  /**
   * How many new peers that are not kept the catalog takes now: its free
   * slots, then (full) what is left of this second's `maxChurn`. Lets a
   * caller refuse the rest of a batch before verifying it.
   */
  openings(): number {
    return Math.max(0, this.#maxPeers - this.#entries.size) + Math.floor(this.#churnTokens());
  }

  /** Whether a new peer's entry of `bytes` needs room made. */
  #full(bytes: number): boolean {
    return this.#entries.size + 1 > this.#maxPeers || this.#bytes + bytes > this.#maxBytes;
  }

  /** Refills and returns the newcomers a full catalog may take now. */
  #churnTokens(): number {
    const now = this.#now();
    const c = this.#churn;
    c.tokens = Math.min(this.#maxChurn, c.tokens + (now - c.at) * this.#maxChurn / 1000);
    c.at = now;
    return c.tokens;
  }

  /** Evicts until `peers` more entries and `bytes` more bytes fit; whether they do. */
  #makeRoom(peers: number, bytes: number, incoming: PeerId): boolean {
    const fits = () =>
      this.#entries.size + peers <= this.#maxPeers && this.#bytes + bytes <= this.#maxBytes;
    if (fits()) return true;
    let passed = 0;
    for (const order of [this.#cold, this.#warm]) {
      for (const peer of order) {
        if (fits()) return true;
        if (peer === incoming) continue;
        if (this.keeps(peer)) {
          if (++passed > EVICTION_SCAN) return false;
          continue;
        }
        this.#remove(peer, "evicted");
      }
    }
    return fits();
  }

  #remove(peer: PeerId, type: CatalogEvent["type"] | undefined): SignedPeerEntry | undefined {
    const old = this.#entries.get(peer);
    if (!old) return undefined;
    this.#entries.delete(peer);
    this.#cold.delete(peer);
    this.#warm.delete(peer);
    this.#bytes -= old.bytes.length;
    if (type) this.#emit(type, old.entry);
    return old;
  }

  /**
   * What {@linkcode Catalog.upsert} would answer for `e` without storing it:
   * a reason to refuse it, `"unchanged"` if this version is known, or
   * `undefined` if it would be stored. Lets callers skip verifying entries
   * that would not be stored anyway.
   */
  assess(e: PeerEntry): UpsertResult | undefined {
    const now = this.#now();
    if (e.network !== this.#network) return "wrong-network";
    if (e.version.counter + this.#options.purgeAfter <= now) return "expired";
    if (e.version.counter > now + this.#options.maxDrift) return "future-version";
    if (e.peerId === this.#local) return "unchanged";
    const tomb = this.#tombstones.get(e.peerId);
    if (tomb && tomb.until > now && compareVersions(e.version, tomb.version) <= 0) {
      return "older-version";
    }
    const old = this.#entries.get(e.peerId);
    if (this.#live(old, now)) {
      const c = compareVersions(e.version, old.entry.version);
      if (c < 0) return "older-version";
      if (c === 0) return "unchanged";
    } else if (
      !old && this.#entries.size >= this.#maxPeers && this.#churnTokens() < 1 &&
      !this.keeps(e.peerId)
    ) {
      return "catalog-full";
    }
    return undefined;
  }

  /**
   * Applies a verified departure: removes the peer's entry if it is no newer
   * than the departure's version and emits `departed`. Returns whether the
   * departure was accepted (also when the peer was not known).
   */
  depart(d: Departure): UpsertResult {
    const now = this.#now();
    if (d.network !== this.#network) return "wrong-network";
    if (d.timestamp > now + this.#options.maxDrift) return "future-version";
    if (d.peerId === this.#local) return "unchanged";
    const tomb = this.#tombstones.get(d.peerId);
    if (tomb && compareVersions(d.version, tomb.version) <= 0) return "unchanged";
    const old = this.#entries.get(d.peerId);
    if (old && compareVersions(old.entry.version, d.version) > 0) return "older-version";
    // Departures of made-up keys must not grow the table without bound.
    if (!old) dropOldest(this.#tombstones, this.#maxPeers - 1);
    this.#tombstones.set(d.peerId, { version: d.version, until: now + this.#options.purgeAfter });
    if (old) this.#remove(d.peerId, this.#live(old, now) ? "departed" : undefined);
    return "updated";
  }

  /** Removes expired entries (emitting `expired`); returns how many. */
  purge(): number {
    const now = this.#now();
    let n = 0;
    let first = Infinity;
    for (const [id, s] of this.#entries) {
      if (this.#expired(s, now)) {
        this.#remove(id, "expired");
        n++;
      } else {
        first = Math.min(first, this.#expiry(s));
      }
    }
    this.#firstExpiry = first;
    for (const [id, t] of this.#tombstones) if (t.until <= now) this.#tombstones.delete(id);
    return n;
  }

  /** When the next entry expires (unix ms), if any; a lower bound until the next purge. */
  nextExpiry(): number | undefined {
    return this.#firstExpiry === Infinity ? undefined : this.#firstExpiry;
  }
}
