/**
 * The gossip glue: HyParView membership and Plumtree broadcast on one
 * protocol, our entry's announcements, and what a received broadcast does
 * to the catalog.
 *
 * @module
 */
import {
  type Channel,
  CloseCode,
  decode,
  DecodeError,
  encode,
  type Endpoint,
  type PeerId,
} from "@mosaik/transport";
import type { Catalog, UpsertResult } from "./catalog.ts";
import { decodeDeparture } from "./departure.ts";
import {
  compareVersions,
  type EntryVersion,
  InvalidEntryError,
  type SignedPeerEntry,
} from "./entry.ts";
import { HyParView, type PeerInfo } from "./_hyparview.ts";
import type { HyParViewConfig } from "./_hyparview_config.ts";
import type { Ingest, Verdict } from "./_ingest.ts";
import { Links } from "./_links.ts";
import type { ResolvedOptions } from "./options.ts";
import { Plumtree, type PlumtreeConfig } from "./_plumtree.ts";
import type { PeerRate } from "./_rate.ts";
import type { Requests } from "./_requests.ts";
import type { Scheduler } from "./_scheduler.ts";
import { bump, type DiscoveryStats } from "./stats.ts";
import {
  announcedEntry,
  type Announcement,
  decodeAnnouncement,
  decodeGossip,
  encodeAnnouncement,
  encodeGossip,
  entryPayloadId,
  type GossipMessage,
  payloadId,
} from "./_wire.ts";

/** Protocol name of gossip (HyParView + Plumtree) channels. */
export const GOSSIP_PROTOCOL = "/mosaik/discovery/gossip/1";

// Link-level message on gossip channels: "reply when you have read this"
// (answered with FLUSHED), so a leaving node knows its departure arrived.
const FLUSH = 100;
const FLUSHED = 101;

/** What gossip needs from its node. */
export interface GossipContext {
  readonly endpoint: Endpoint;
  readonly catalog: Catalog;
  readonly ingest: Ingest;
  readonly requests: Requests;
  readonly rate: PeerRate;
  readonly stats: DiscoveryStats;
  readonly options: ResolvedOptions;
  readonly clock: Scheduler;
  /**
   * Counts a received entry or departure (maybe as an offence of `from`);
   * whether the broadcast carrying it is forwarded.
   */
  accept(result: UpsertResult, from: PeerId): boolean;
  /** Records an offence of `peer`. */
  offend(peer: PeerId, what: string): void;
  /** Whether `peer` is banned. */
  banned(peer: PeerId): boolean;
  /** `peer` became a neighbour. */
  neighborUp(peer: PeerInfo): void;
  /** The RTT to `peer` in ms (measured or predicted), when known. */
  rtt(peer: PeerId): number | undefined;
  /** Syncs with `peer` (a neighbour whose notice named an entry we lack). */
  fetch(peer: PeerInfo): Promise<void>;
}

/** Membership and broadcast of one node. */
export class Gossip {
  /** The membership state machine. */
  readonly hv: HyParView;
  /** The broadcast state machine. */
  readonly pt: Plumtree;
  #c: GossipContext;
  #links: Links;
  #closed = false;
  /** Per neighbour: the sync fetching noticed entries, and the one queued after it. */
  #fetches = new Map<PeerId, { running?: Promise<void>; queued?: Promise<void> }>();

  /** Creates gossip for a node whose advertised addresses are `addresses`. */
  constructor(
    context: GossipContext,
    addresses: readonly string[],
    config: Partial<HyParViewConfig & PlumtreeConfig>,
  ) {
    this.#c = context;
    const e = context.endpoint;
    this.#links = new Links(e, GOSSIP_PROTOCOL, {
      read: (ch) => context.requests.track(this.#read(ch)),
      failed: (peer) => this.hv.failed(peer),
    });
    this.hv = new HyParView({ id: e.peerId, addresses }, config, {
      send: (to, m) => this.#send(to, m),
      release: (peer) => this.#links.release(peer),
      neighborUp: (peer) => {
        this.pt.neighborUp(peer.id);
        context.neighborUp(peer);
      },
      neighborDown: (peer) => this.pt.neighborDown(peer),
      distance: (peer) => context.rtt(peer),
      connected: (peer) => e.connection(peer) !== undefined,
    }, context.clock);
    this.pt = new Plumtree(config, {
      send: (to, m) => {
        const info = this.hv.active.get(to);
        if (info) void this.#send(info, m);
      },
      deliver: (payload, from) => this.#deliver(payload, from),
      refuse: (payload, from) => this.#refuses(payload, from),
      id: payloadId,
    }, context.clock);
  }

  /** Sends `m` to `to`; settles once it left (or its link failed). */
  #send(to: PeerInfo, m: GossipMessage): Promise<void> | undefined {
    if (this.#closed) return;
    bump(this.#c.stats.sent, m.kind);
    const bytes = encode(encodeGossip(m));
    this.#c.stats.gossipBytesSent += bytes.length;
    return this.#links.send(to.id, to.addresses, bytes);
  }

  /**
   * The catalog took `signed`, new or newer: its peer joins the passive view
   * (unless banned), and its broadcast, should it come after (a sync brought
   * it), is neither delivered nor forwarded.
   */
  learned(signed: SignedPeerEntry, banned: boolean): void {
    const e = signed.entry;
    if (!banned) this.hv.learn({ id: e.peerId, addresses: e.addresses });
    this.pt.markKnown(entryPayloadId(signed.bytes));
  }

  /**
   * Broadcasts our entry, or a notice naming it when it is larger than
   * `maxGossipMessage` (neighbours then fetch it by sync).
   */
  announce(signed: SignedPeerEntry): void {
    let payload = encode(encodeAnnouncement({ kind: "entry", bytes: signed.bytes }));
    if (payload.length > this.#c.options.maxGossipMessage) {
      const e = signed.entry;
      payload = encode(encodeAnnouncement({
        kind: "notice",
        peer: { id: e.peerId, addresses: e.addresses },
        version: e.version,
      }));
    }
    this.#c.stats.broadcasts++;
    this.pt.broadcast(payload);
  }

  /**
   * Leaves: broadcasts a signed departure to every neighbour, and closes the
   * links once they confirmed reading it (or after `departureWindow`).
   */
  async leave(departure: Uint8Array): Promise<void> {
    this.pt.broadcast(encode(encodeAnnouncement({ kind: "departure", bytes: departure })), true);
    this.hv.leave();
    this.#closed = true;
    this.pt.close();
    await this.#links.close(encode([FLUSH]), this.#c.options.departureWindow);
  }

  /**
   * Serves a gossip channel a peer opened to us: reads its messages, and our
   * messages to that peer go back on it while we have no link of our own.
   */
  async serve(ch: Channel): Promise<void> {
    const c = this.#c;
    if (this.#closed) return await ch.close(CloseCode.GracefulShutdown);
    if (c.banned(ch.peerId)) {
      bump(c.stats.dropped, "from-banned-peer");
      return await ch.close(CloseCode.ProtocolViolation, "banned");
    }
    this.#links.adopt(ch);
    await this.#read(ch);
  }

  /** Reads the messages of a gossip channel, whoever opened it, until the remote finishes its side. */
  async #read(ch: Channel): Promise<void> {
    const c = this.#c;
    const release = c.requests.hold(ch);
    try {
      for (;;) {
        let raw: Uint8Array | undefined;
        try {
          raw = await ch.recvBytes();
        } catch (e) {
          if (e instanceof DecodeError) this.#malformed(ch.peerId);
          return;
        }
        if (raw === undefined) return;
        if (!c.rate.take(ch.peerId, raw.length)) {
          c.stats.gossipRateLimited++;
          continue;
        }
        let m: GossipMessage;
        try {
          const v = decode(raw);
          if (Array.isArray(v) && v.length === 1 && v[0] === FLUSH) {
            // Fails when we finished our side already: the prober's window ends its wait.
            await ch.send([FLUSHED]).catch(() => {});
            continue;
          }
          if (Array.isArray(v) && v.length === 1 && v[0] === FLUSHED) {
            this.#links.probed(ch);
            continue;
          }
          if (this.#closed || c.banned(ch.peerId)) continue;
          m = decodeGossip(v, c.options.maxGossipMessage);
        } catch {
          this.#malformed(ch.peerId);
          await ch.close(CloseCode.ProtocolViolation, "malformed gossip message");
          return;
        }
        bump(c.stats.received, m.kind);
        this.#handle(ch.peerId, m);
      }
    } finally {
      release();
      // Both directions are done unless our messages still go on it; then we
      // let go too, unless the peer is a neighbour (or asked to become one).
      if (!this.#links.uses(ch)) await ch.close().catch(() => {});
      else if (!this.hv.keeps(ch.peerId)) this.#links.release(ch.peerId);
    }
  }

  #malformed(peer: PeerId): void {
    bump(this.#c.stats.dropped, "undecodable-message");
    this.#c.offend(peer, "undecodable gossip");
  }

  #handle(from: PeerId, m: GossipMessage): void {
    if (m.kind === "gossip" || m.kind === "ihave" || m.kind === "graft" || m.kind === "prune") {
      const refused = this.pt.handle(from, m);
      if (refused === undefined) return;
      bump(this.#c.stats.dropped, `gossip-${refused}`);
      // A payload whose id is not its content's is forged on purpose.
      if (refused === "wrong-id") this.#c.offend(from, "gossip id does not match its payload");
    } else {
      this.hv.handle(from, m);
    }
  }

  /**
   * Whether `payload` announces a new peer that a full catalog refuses (see
   * {@linkcode Ingest.refuses}): counted as such, before anyone hashes it.
   */
  #refuses(payload: Uint8Array, from: PeerId): boolean {
    const entry = announcedEntry(payload);
    if (entry === undefined || !this.#c.ingest.refuses(entry)) return false;
    this.#c.accept("catalog-full", from);
    return true;
  }

  #deliver(payload: Uint8Array, from: PeerId): boolean | Promise<boolean> {
    const c = this.#c;
    let a: Announcement;
    try {
      a = decodeAnnouncement(decode(payload));
    } catch {
      bump(c.stats.dropped, "undecodable");
      c.offend(from, "undecodable announcement");
      return false;
    }
    if (a.kind === "entry") {
      // Over its sender's signature budget: neither verified nor forwarded
      // (anti-entropy brings it if it is real).
      const judge = (v: Verdict) =>
        v === "deferred" ? (c.stats.entriesDeferred++, false) : c.accept(v, from);
      const r = c.ingest.one(a.bytes, from);
      return typeof r === "string" ? judge(r) : r.then(judge);
    }
    if (a.kind === "departure") {
      let result: UpsertResult;
      try {
        const d = decodeDeparture(a.bytes);
        result = c.catalog.depart(d);
        if (result === "updated") this.hv.passive.delete(d.peerId);
      } catch (e) {
        result = e instanceof InvalidEntryError ? e.reason : "undecodable";
      }
      return c.accept(result, from);
    }
    return this.#noticed(a.peer.id, a.version, from);
  }

  /**
   * A notice names an entry too large for gossip. We fetch it by sync from
   * the neighbour that sent the notice, never from the addresses the notice
   * names: notices are not signed, and dialing those would let anyone point
   * every node at a port. We forward the notice only once we hold the entry,
   * so whoever it reaches can fetch it from us in turn.
   */
  async #noticed(peer: PeerId, version: EntryVersion, from: PeerId): Promise<boolean> {
    const c = this.#c;
    const held = () => {
      const known = c.catalog.get(peer)?.version;
      return peer === c.endpoint.peerId || (!!known && compareVersions(known, version) >= 0);
    };
    if (held()) return true;
    const via = this.hv.active.get(from);
    if (via) await this.#fetchFrom(via);
    if (held()) return true;
    bump(c.stats.dropped, "notice-unfounded");
    return false;
  }

  /**
   * Syncs with `via` once after now. Notices arriving during a sync share
   * the one after it: a neighbour sending thousands costs two syncs.
   */
  #fetchFrom(via: PeerInfo): Promise<void> {
    let state = this.#fetches.get(via.id);
    if (!state) this.#fetches.set(via.id, state = {});
    if (state.queued) return state.queued;
    const s = state;
    const queued: Promise<void> = (s.running ?? Promise.resolve()).then(async () => {
      s.running = queued;
      s.queued = undefined;
      try {
        await this.#c.fetch(via);
      } catch {
        // A failed sync is counted by sync; the notice goes unfounded.
      } finally {
        if (s.running === queued) s.running = undefined;
        if (!s.running && !s.queued) this.#fetches.delete(via.id);
      }
    });
    s.queued = queued;
    return queued;
  }
}
