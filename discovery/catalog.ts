/**
 * The catalog: the latest verified entry of every other peer of the network,
 * with queries and an event stream.
 *
 * @module
 */
import type { GroupId, NetworkId, PeerId, StreamId, Tag } from "@mosaik/transport";
import {
  compareVersions,
  type Departure,
  type PeerEntry,
  type RejectReason,
  type SignedPeerEntry,
  type Version,
} from "./entry.ts";

/** A change to the catalog. */
export interface CatalogEvent {
  /**
   * `discovered`: a new peer; `updated`: a newer entry replaced an older one;
   * `departed`: the peer left on purpose (signed departure); `expired`: its
   * entry was not refreshed in time.
   */
  readonly type: "discovered" | "updated" | "departed" | "expired";
  /** The entry concerned (for `departed`/`expired`, the last one known). */
  readonly entry: PeerEntry;
}

/** Options of a {@linkcode Catalog}. */
export interface CatalogOptions {
  /** An entry expires this many ms after its version's counter timestamp. */
  purgeAfter: number;
  /** Entries whose counter is more than this many ms in the future are refused. */
  maxDrift: number;
  /** The clock (unix ms); tests may replace it. */
  now?: () => number;
}

/** The outcome of {@linkcode Catalog.upsert}: stored, already known, or why it was refused. */
export type UpsertResult = "discovered" | "updated" | "unchanged" | RejectReason;

interface Tombstone {
  version: Version;
  until: number;
}

/**
 * Every other peer's latest verified entry. Queries never return expired
 * entries or the local peer.
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
  readonly #entries = new Map<PeerId, SignedPeerEntry>();
  readonly #tombstones = new Map<PeerId, Tombstone>();
  readonly #listeners = new Set<(e: CatalogEvent) => void>();

  /** Creates an empty catalog for `network`, never storing `local`. */
  constructor(network: NetworkId, local: PeerId, options: CatalogOptions) {
    this.#network = network;
    this.#local = local;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  #live(s: SignedPeerEntry | undefined, now = this.#now()): s is SignedPeerEntry {
    return s !== undefined && !this.#expired(s, now);
  }

  #expired(s: SignedPeerEntry, now: number): boolean {
    return s.entry.version.counter + this.#options.purgeAfter <= now;
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
    const now = this.#now();
    return [...this.#entries.values()].filter((s) => this.#live(s, now));
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

  /** How many other live peers the catalog holds. */
  get size(): number {
    return this.signedEntries().length;
  }

  /** Calls `fn` on every change; returns the function that unsubscribes. */
  subscribe(fn: (e: CatalogEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #emit(type: CatalogEvent["type"], entry: PeerEntry): void {
    for (const fn of [...this.#listeners]) {
      try {
        fn({ type, entry });
      } catch (e) {
        console.error("catalog subscriber threw", e);
      }
    }
  }

  /**
   * Stores a verified entry if it is for this network, not expired, not too
   * far in the future and newer than what is known (or than the peer's
   * departure). Emits `discovered` or `updated`.
   */
  upsert(signed: SignedPeerEntry): UpsertResult {
    const e = signed.entry;
    const verdict = this.assess(e);
    if (verdict !== undefined) return verdict;
    this.#tombstones.delete(e.peerId);
    const old = this.#entries.get(e.peerId);
    const live = this.#live(old);
    this.#entries.set(e.peerId, signed);
    const type = live ? "updated" : "discovered";
    this.#emit(type, e);
    return type;
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
    this.#tombstones.set(d.peerId, { version: d.version, until: now + this.#options.purgeAfter });
    if (old) {
      this.#entries.delete(d.peerId);
      if (this.#live(old, now)) this.#emit("departed", old.entry);
    }
    return "updated";
  }

  /** Removes expired entries (emitting `expired`); returns how many. */
  purge(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, s] of this.#entries) {
      if (this.#expired(s, now)) {
        this.#entries.delete(id);
        this.#emit("expired", s.entry);
        n++;
      }
    }
    for (const [id, t] of this.#tombstones) if (t.until <= now) this.#tombstones.delete(id);
    return n;
  }

  /** When the next entry expires (unix ms), if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const s of this.#entries.values()) {
      const at = s.entry.version.counter + this.#options.purgeAfter;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** `(peer, version)` of every live entry, for catalog sync. */
  summary(): Map<PeerId, Version> {
    const out = new Map<PeerId, Version>();
    for (const s of this.signedEntries()) out.set(s.entry.peerId, s.entry.version);
    return out;
  }
}
