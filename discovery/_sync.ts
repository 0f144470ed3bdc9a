/**
 * Catalog sync: two peers exchange summaries `(peer, version)*` and send
 * each other the entries the other lacks or holds older.
 *
 * ```text
 * requester -> acceptor   summary
 * acceptor  -> requester  [entries newer than the summary, acceptor's summary]
 * requester -> acceptor   entries newer than the acceptor's summary
 * acceptor  -> requester  "done"
 * ```
 *
 * A message carries at most `maxSyncBytes` of entries (the rest follows in
 * later syncs), so a reply never outgrows a frame. Only what the remote
 * did is held against it: a malformed summary or entries. What it sends
 * unasked beyond `maxSyncRate` is refused but not an offence; replies to our
 * own requests are not metered (we chose to ask); our own timer or a channel
 * it ended are not offences.
 *
 * @module
 */
import {
  type Channel,
  CloseCode,
  ClosedError,
  decode,
  DecodeError,
  type PeerId,
} from "@mosaik/transport";
import type { Catalog, UpsertResult } from "./catalog.ts";
import type { PeerEntry } from "./entry.ts";
import type { Ingest } from "./_ingest.ts";
import type { LocalEntry } from "./local.ts";
import type { ResolvedOptions } from "./options.ts";
import type { PeerRate } from "./_rate.ts";
import type { PeerInfo } from "./_hyparview.ts";
import type { Requests } from "./_requests.ts";
import { bump, type DiscoveryStats } from "./stats.ts";
import { array } from "./_check.ts";
import { decodeSummary, decodeSyncReply, encodeSummary, encodeSyncReply } from "./_summary.ts";

/** Messages from this size on are freed once merged (see CatalogSync.#mergeMessage). */
const RELEASE_FROM = 16 << 10;

/** Protocol name of catalog sync channels. */
export const SYNC_PROTOCOL = "/mosaik/discovery/sync/1";

/** What catalog sync needs from its node. */
export interface SyncContext {
  readonly self: PeerId;
  readonly catalog: Catalog;
  readonly local: LocalEntry;
  readonly ingest: Ingest;
  readonly requests: Requests;
  readonly rate: PeerRate;
  readonly stats: DiscoveryStats;
  readonly options: ResolvedOptions;
  /** Judges a merged entry (counts it, maybe an offence); false once `from` is banned. */
  judge(result: UpsertResult, from: PeerId): boolean;
  /** Records an offence of `peer`. */
  offend(peer: PeerId, what: string): void;
}

/** A message from the remote was malformed: its fault. */
class RemoteFault extends DecodeError {}

/** The remote asked for syncs faster than `maxSyncRate`: refused, but not an offence. */
class OverRate extends DecodeError {}

/** Both sides of catalog sync for one node. */
export class CatalogSync {
  #c: SyncContext;

  /** Creates the sync protocol of a node. */
  constructor(context: SyncContext) {
    this.#c = context;
  }

  /** Peers this node has synced with (or is syncing with). */
  readonly synced: Set<PeerId> = new Set();
  /** Our syncs under way, by peer (each ends by the request timeout). */
  #running = new Map<PeerId, Promise<number>>();

  /** What our summary names: our entry and every live one of the catalog. */
  #summary(): PeerEntry[] {
    return [this.#c.local.entry, ...this.#c.catalog.peers()];
  }

  /**
   * Reads the remote's summary with `read` into the peers it holds at our
   * version or newer (our own strings: nothing of the message outlives it).
   */
  #current(read: (each: (peer: PeerId, start: number, counter: number) => void) => void) {
    const current = new Set<PeerId>();
    this.#parse(() =>
      read((peer, start, counter) => {
        const mine = peer === this.#c.self ? this.#c.local.entry : this.#c.catalog.get(peer);
        if (!mine) return;
        const v = mine.version;
        if (start > v.start || (start === v.start && counter >= v.counter)) {
          current.add(mine.peerId);
        }
      })
    );
    return current;
  }

  /** Entries (ours first) of peers not in `current`, up to `maxSyncBytes`. */
  #newerThan(current: Set<PeerId>): Uint8Array[] {
    const out: Uint8Array[] = [];
    let budget = this.#c.options.maxSyncBytes;
    for (const s of [this.#c.local.signed, ...this.#c.catalog.signedEntries()]) {
      if (current.has(s.entry.peerId)) continue;
      if (s.bytes.length > budget) break;
      budget -= s.bytes.length;
      out.push(s.bytes);
    }
    return out;
  }

  /**
   * Receives the remote's next message; `undefined` if it ended. What a
   * remote sends unasked (`metered`: it opened the sync) counts against its
   * byte budget; replies to our own requests do not, we chose to ask.
   */
  #recv(ch: Channel, metered: boolean): Promise<unknown> {
    return this.#receive(ch, metered, () => ch.recv());
  }

  /**
   * Merges the entries of the message `bytes` and then frees it at once
   * when it has a buffer of its own (a large frame): nothing keeps a view of
   * it (verified entries are copies), and a frame that outlived two young
   * collections while it arrived would otherwise wait for a full GC (ten
   * 1.2 MB syncs held 12 MiB).
   */
  async #mergeMessage(bytes: Uint8Array, entries: () => unknown, from: PeerId): Promise<number> {
    try {
      return await this.#merge(this.#parse(entries), from);
    } finally {
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      if (own && bytes.byteLength >= RELEASE_FROM) (bytes.buffer as ArrayBuffer).transfer(0);
    }
  }

  /** {@linkcode CatalogSync.#recv}, the message's bytes. */
  #recvBytes(ch: Channel, metered: boolean): Promise<Uint8Array | undefined> {
    return this.#receive(ch, metered, () => ch.recvBytes());
  }

  async #receive<T>(ch: Channel, metered: boolean, next: () => Promise<T>): Promise<T> {
    const before = ch.stats.bytesReceived;
    let m: T;
    try {
      m = await next();
    } catch (e) {
      throw e instanceof DecodeError ? new RemoteFault(e.message, { cause: e }) : e;
    }
    if (metered && !this.#c.rate.take(ch.peerId, ch.stats.bytesReceived - before)) {
      this.#c.stats.syncRateLimited++;
      throw new OverRate(`sync from ${ch.peerId} over its rate`);
    }
    bump(this.#c.stats.received, "sync");
    return m;
  }

  #fault(peer: PeerId, e: RemoteFault): void {
    bump(this.#c.stats.dropped, "undecodable-message");
    this.#c.offend(peer, e.message);
  }

  #parse<T>(decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      throw new RemoteFault(String((e as Error).message), { cause: e });
    }
  }

  async #merge(entries: unknown, from: PeerId): Promise<number> {
    const list = this.#parse(() => array(entries, "entries", this.#c.options.maxPeers));
    const { learned, deferred } = await this.#c.ingest.many(
      list,
      from,
      (r) => this.#c.judge(r, from),
    );
    this.#c.stats.entriesDeferred += deferred;
    return learned;
  }

  /**
   * Exchanges catalogs with `peer` both ways; resolves once both sides
   * merged, with how many entries we learned. With `join`, a sync with
   * `peer` already under way stands for this one (anti-entropy and first
   * contacts need not start a second exchange of the same catalogs).
   */
  sync(peer: PeerInfo, join = false): Promise<number> {
    const running = this.#running.get(peer.id);
    if (join && running) return running;
    const sync = this.#sync(peer);
    this.#running.set(peer.id, sync);
    const done = () => {
      if (this.#running.get(peer.id) === sync) this.#running.delete(peer.id);
    };
    sync.then(done, done);
    return sync;
  }

  async #sync(peer: PeerInfo): Promise<number> {
    this.synced.add(peer.id);
    const c = this.#c;
    try {
      const learned = await c.requests.request(
        peer.id,
        peer.addresses,
        SYNC_PROTOCOL,
        async (ch) => {
          await ch.sendBytes(encodeSummary(this.#summary()));
          bump(c.stats.sent, "sync");
          const reply = await this.#recvBytes(ch, false);
          if (reply === undefined) throw new ClosedError("sync ended by the remote");
          let entries: Uint8Array[] = [];
          const current = this.#current((each) => {
            entries = decodeSyncReply(reply, c.options.maxPeers, c.options.maxPeers + 1, each);
          });
          // What they lack is reckoned before merging what they sent (which they hold).
          const lacking = this.#newerThan(current);
          const learned = await this.#mergeMessage(reply, () => entries, peer.id);
          await ch.send(lacking);
          bump(c.stats.sent, "sync");
          const done = await this.#recv(ch, false);
          if (done === undefined) throw new ClosedError("sync ended by the remote");
          if (done !== "done") throw new RemoteFault("sync not acknowledged");
          return learned;
        },
      );
      c.stats.syncs++;
      return learned;
    } catch (e) {
      c.stats.syncFailures++;
      if (e instanceof RemoteFault) this.#fault(peer.id, e);
      throw e;
    }
  }

  /** Serves a sync a peer asked for; whether it completed. */
  async serve(ch: Channel, timedOut: () => boolean): Promise<boolean> {
    const c = this.#c;
    try {
      const summary = await this.#recvBytes(ch, true);
      if (summary === undefined) return false; // the remote gave up, or our timer ended it
      const current = this.#current((each) => decodeSummary(summary, c.options.maxPeers + 1, each));
      await ch.sendBytes(encodeSyncReply(this.#newerThan(current), this.#summary()));
      bump(c.stats.sent, "sync");
      const entries = await this.#recvBytes(ch, true);
      if (entries === undefined) return false;
      await this.#mergeMessage(entries, () => decode(entries), ch.peerId);
      await ch.send("done");
      c.stats.syncs++;
      await ch.close();
      return true;
    } catch (e) {
      c.stats.syncFailures++;
      const fault = e instanceof RemoteFault && !timedOut();
      if (fault) this.#fault(ch.peerId, e);
      // The channel is done either way: a requester waiting for "done" learns it at once.
      await ch.close(fault ? CloseCode.ProtocolViolation : CloseCode.Cancelled, String(e))
        .catch(() => {});
      return false;
    }
  }
}
