/**
 * Taking entries from the wire into the catalog: cheap checks (shape, network,
 * expiry, known version) before signatures, signatures verified once per
 * entry in flight and in bounded batches, so a peer that sends garbage is
 * banned before it costs much CPU.
 *
 * @module
 */
import { delay, type PeerId } from "@mosaik/transport";
import { PeerRate } from "./_rate.ts";
import type { Catalog, UpsertResult } from "./catalog.ts";
import {
  claimedPeer,
  compareVersions,
  type EntryVersion,
  InvalidEntryError,
  type ParsedEntry,
  parseEntry,
  verifyParsedEntry,
  verifyParsedEntrySync,
} from "./entry.ts";

/** Signatures verified at once while merging a sync (the node gets the event loop back between batches). */
export const VERIFY_BATCH = 64;
/** Entries of a sync parsed and checked before the node gets the event loop back. */
export const SCREEN_CHUNK = 512;

function reason(e: unknown): UpsertResult {
  return e instanceof InvalidEntryError ? e.reason : "undecodable";
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * What ingesting an entry came to: the catalog's verdict, or `deferred` when
 * its sender is over its signature budget (the entry was not verified).
 */
export type Verdict = UpsertResult | "deferred";

/** The ingestion pipeline of one node. */
export class Ingest {
  #catalog: Catalog;
  #self: PeerId;
  #closed: () => boolean;
  #budget: PeerRate;
  #verifying = new Map<string, Promise<UpsertResult>>();

  /**
   * Ingests into `catalog`, ignoring entries of `self`; stores nothing once
   * `closed()`. Verifies at most `maxVerifyRate` signatures a second of what
   * one peer sends (gossip and sync together).
   */
  constructor(
    catalog: Catalog,
    self: PeerId,
    options: { maxVerifyRate: number },
    closed: () => boolean,
  ) {
    this.#catalog = catalog;
    this.#self = self;
    this.#closed = closed;
    this.#budget = new PeerRate(options.maxVerifyRate);
  }

  /**
   * Parses and runs the cheap checks: a verdict, or the parsed entry when its
   * signature must be verified.
   */
  #screen(raw: unknown): UpsertResult | ParsedEntry {
    if (!(raw instanceof Uint8Array)) return "undecodable";
    let p: ParsedEntry;
    try {
      p = parseEntry(raw);
    } catch (e) {
      return reason(e);
    }
    const e = p.entry;
    if (e.peerId === this.#self) return "unchanged";
    const verdict = this.#catalog.assess(e);
    if (verdict === undefined) return p;
    // A different entry claiming a known version is a forgery: verify it.
    if (verdict === "unchanged" && !sameBytes(this.#catalog.signed(e.peerId)?.bytes, raw)) {
      return p;
    }
    return verdict;
  }

  /**
   * Whether a catalog without openings refuses `raw`, a new peer's entry, as
   * `catalog-full`: read from the peer id it claims, unparsed and unverified.
   */
  refuses(raw: Uint8Array): boolean {
    return this.#catalog.openings() <= 0 && this.#refused(raw);
  }

  /** Whether `raw` is a new peer's entry that a catalog without openings refuses: no parse needed. */
  #refused(raw: unknown): boolean {
    const peer = raw instanceof Uint8Array ? claimedPeer(raw) : undefined;
    return peer !== undefined && peer !== this.#self && !this.#catalog.get(peer) &&
      !this.#catalog.keeps(peer);
  }

  #verify(p: ParsedEntry): Promise<UpsertResult> {
    const e = p.entry;
    const key = `${e.peerId}/${e.version.start}/${e.version.counter}/${p.raw.length}`;
    const pending = this.#verifying.get(key);
    // A second copy while the first is verified: report it as known.
    if (pending) {
      return pending.then((r) => r === "discovered" || r === "updated" ? "unchanged" : r);
    }
    const verified = verifyParsedEntry(p).then(
      (signed) => this.#closed() ? "unchanged" as const : this.#catalog.upsert(signed),
      reason,
    ).finally(() => this.#verifying.delete(key));
    this.#verifying.set(key, verified);
    return verified;
  }

  /**
   * Takes one entry (a broadcast `from` a neighbour). An update of a known
   * peer is verified synchronously: it is rare and latency matters (it lands
   * before anything the peer sends afterwards on other channels); a new peer
   * takes the faster native path, unless the catalog has no opening for it
   * (refused from the peer id it claims, unparsed).
   */
  one(raw: Uint8Array, from: PeerId): Verdict | Promise<UpsertResult> {
    if (this.refuses(raw)) return "catalog-full";
    const p = this.#screen(raw);
    if (typeof p === "string") return p;
    if (this.#budget.grant(from, 1) === 0) return "deferred";
    if (!this.#catalog.get(p.entry.peerId)) return this.#verify(p);
    try {
      return this.#catalog.upsert(verifyParsedEntrySync(p));
    } catch (e) {
      return reason(e);
    }
  }

  /**
   * Takes the entries of a sync, {@linkcode SCREEN_CHUNK} at a time (the
   * node gets the event loop back between chunks, and a message of garbage
   * is never parsed whole before its first offences count). Every verdict
   * goes to `report`, cheap ones first; signatures are verified in batches of
   * {@linkcode VERIFY_BATCH}, newest version per peer only, and the merge
   * stops as soon as `report` returns false (the sender got banned).
   * Signatures beyond `from`'s budget are not verified: those entries are
   * left for a later sync. Returns how many entries were new or newer, and
   * how many were left.
   */
  async many(
    raws: readonly unknown[],
    from: PeerId,
    report: (r: UpsertResult) => boolean,
  ): Promise<{ learned: number; deferred: number }> {
    const newest = new Map<PeerId, EntryVersion>();
    let learned = 0;
    let deferred = 0;
    for (let at = 0; at < raws.length; at += SCREEN_CHUNK) {
      if (at > 0) await delay(0);
      if (this.#closed()) break;
      const candidates = new Map<PeerId, ParsedEntry>();
      // New peers beyond what the catalog takes now are not worth a signature.
      let openings = this.#catalog.openings();
      for (const raw of raws.slice(at, at + SCREEN_CHUNK)) {
        if (openings <= 0 && this.#refused(raw)) {
          if (!report("catalog-full")) return { learned, deferred };
          continue;
        }
        const p = this.#screen(raw);
        if (typeof p === "string") {
          if (!report(p)) return { learned, deferred };
          continue;
        }
        const peer = p.entry.peerId;
        const seen = newest.get(peer);
        if (seen && compareVersions(seen, p.entry.version) >= 0) continue;
        if (!seen && !this.#catalog.get(peer) && !this.#catalog.keeps(peer) && openings-- <= 0) {
          if (!report("catalog-full")) return { learned, deferred };
          continue;
        }
        newest.set(peer, p.entry.version);
        candidates.set(peer, p);
      }
      const queue = [...candidates.values()];
      const allowed = this.#budget.grant(from, queue.length);
      deferred += queue.length - allowed;
      queue.length = allowed;
      candidates.clear();
      for (let first = true; queue.length > 0; first = false) {
        // Native verification never yields by itself: give the event loop back per batch.
        if (!first) await delay(0);
        if (this.#closed()) break;
        // Taken off the queue: a verified batch's parsed entries are garbage at once.
        const results = await Promise.all(
          queue.splice(0, VERIFY_BATCH).map((p) => this.#verify(p)),
        );
        for (const r of results) {
          if (r === "discovered" || r === "updated") learned++;
          if (!report(r)) return { learned, deferred };
        }
      }
    }
    return { learned, deferred };
  }
}
