/**
 * Which producers a consumer subscribes to (private): the eligible ones in
 * the catalog (`require`, tickets, measured RTT), ranked by `prefer` (see
 * `rank.ts`), at most `limit` of them; re-evaluated on every catalog change
 * and, under `prefer` with `limit`, re-measured and re-ranked periodically. It owns the
 * consumer's subscriptions and decides, from how each one ended, whether
 * and when to try that producer again.
 *
 * @module
 */
import {
  logger,
  type PeerId,
  scheduleAt,
  type TicketValidator,
  type TicketVerdict,
} from "@mosaik/transport";
import type { BackoffOptions } from "./backoff.ts";
import type { ChannelStats } from "./conditions.ts";
import type { Host } from "./_host.ts";
import type { Inbox } from "./_inbox.ts";
import {
  allPass,
  checkPeerTickets,
  entryVersion,
  type PeerInfo,
  peerInfo,
  type PeerPredicate,
  type StreamsPeerEntry,
} from "./peer.ts";
import { NoProducerWarning, type Sighting } from "./_no_producer.ts";
import { choose, type Preference } from "./rank.ts";
import type { StreamDef } from "./stream.ts";
import {
  type Cursor,
  Subscription,
  type SubscriptionContext,
  type SubscriptionEnd,
} from "./_subscription.ts";

const log = logger("streams");

const PROBE_RETRY = 5_000;
/** Period of re-measuring and re-ranking producers under `prefer` and `limit`. */
const RERANK = 2_000;
/** Producers not in use re-measured per re-rank, best ranked first. */
const RERANK_PROBES = 3;
/**
 * After a refusal (which judges *our* entry) a producer is retried after a
 * growing pause (1 s, 2 s, … 30 s) or as soon as its entry changes, since
 * our own entry may have changed meanwhile.
 */
const REFUSAL_PAUSE = 1_000;
const REFUSAL_PAUSE_MAX = 30_000;
/** How long a producer that left the catalog may take to end its open session. */
const RETIRE_GRACE = 3_000;

/** How a consumer chooses producers. */
export interface SelectionOptions {
  readonly require: readonly PeerPredicate[];
  readonly tickets: readonly TicketValidator[];
  readonly prefer: Preference;
  readonly limit: number | undefined;
  readonly backoff: BackoffOptions;
  /** Ms without a connected producer before one warning is logged. */
  readonly noProducerWarning: number;
}

/** An eligible producer and when its ticket expires. */
interface Candidate {
  readonly info: PeerInfo;
  readonly expiresAt: number | undefined;
}

/** The producers of one consumer and the subscriptions to them. */
export class Selection<T> {
  readonly subscriptions = new Map<PeerId, Subscription<T>>();
  readonly #host: Host;
  readonly #def: StreamDef<T>;
  readonly #options: SelectionOptions;
  readonly #ctx: SubscriptionContext<T>;
  readonly #changed: () => void;
  readonly #tasks = new Set<Promise<void>>();
  readonly #blocked = new Map<PeerId, { version: unknown; until: number }>();
  readonly #refusals = new Map<PeerId, number>();
  readonly #probing = new Set<PeerId>();
  readonly #probeFailed = new Map<PeerId, number>();
  readonly #ticketCache = new Map<
    PeerId,
    { version: unknown; result: Promise<TicketVerdict> }
  >();
  #closed = false;
  #evaluating = false;
  #again = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryAt = Infinity;
  #rerankTimer: ReturnType<typeof setInterval> | undefined;
  /** Eligible producers, best first, as of the last evaluation. */
  #ranked: PeerInfo[] = [];
  readonly #warning: NoProducerWarning;
  #seen: Sighting = { advertised: 0, eligible: 0 };

  /** `changed` runs whenever a subscription connects, disconnects or goes. */
  constructor(
    host: Host,
    def: StreamDef<T>,
    options: SelectionOptions,
    inbox: Inbox<T>,
    totals: ChannelStats,
    changed: () => void,
  ) {
    this.#host = host;
    this.#def = def;
    this.#options = options;
    this.#warning = new NoProducerWarning(
      def as StreamDef<unknown>,
      options.noProducerWarning,
      () => this.#seen,
    );
    this.#changed = () => {
      this.#warning.update(this.#connected());
      changed();
    };
    this.#ctx = {
      host,
      def,
      backoff: options.backoff,
      inbox,
      totals,
      cursors: new Map<PeerId, Cursor>(),
      changed: (sub) => {
        if (sub.state === "connected") this.#refusals.delete(sub.peer.peerId);
        this.#changed();
      },
    };
    this.#warning.update(false);
    if (options.prefer !== "any" && options.limit !== undefined) {
      this.#rerankTimer = setInterval(() => this.#remeasure(), RERANK);
    }
  }

  #connected(): boolean {
    for (const sub of this.subscriptions.values()) if (sub.state === "connected") return true;
    return false;
  }

  /** Re-measures the producers in use and the best candidates, then re-ranks. */
  #remeasure(): void {
    const inUse = [...this.subscriptions.values()].filter((s) => !s.retiring).map((s) => s.peer);
    const candidates = this.#ranked.filter((p) => !this.subscriptions.has(p.peerId));
    const peers = [...inUse, ...candidates.slice(0, RERANK_PROBES)];
    for (const { peerId, entry } of peers) {
      if (this.#probing.has(peerId)) continue;
      this.#probing.add(peerId);
      this.#host.probe(peerId, entry.addresses).catch(() => {}).finally(() => {
        this.#probing.delete(peerId);
        this.evaluate();
      });
    }
    if (peers.length === 0) this.evaluate();
  }

  /** Re-evaluates which producers to use (on every catalog change). */
  evaluate(): void {
    if (this.#closed) return;
    if (this.#evaluating) {
      this.#again = true;
      return;
    }
    this.#evaluating = true;
    queueMicrotask(async () => {
      try {
        do {
          this.#again = false;
          await this.#evaluateOnce();
        } while (this.#again && !this.#closed);
      } catch (e) {
        log.error(`choosing producers of ${this.#def.name} failed`, e);
      } finally {
        this.#evaluating = false;
      }
    });
  }

  async #evaluateOnce(): Promise<void> {
    const self = this.#host.endpoint.peerId;
    const id = this.#def.id;
    const entries = this.#host.discovery.catalog.withStream(id)
      .filter((e) => e.peerId !== self && e.streams.includes(id));
    const present = new Set(entries.map((e) => e.peerId));
    for (const sub of this.subscriptions.values()) {
      if (!present.has(sub.peer.peerId)) this.#retire(sub);
    }
    for (const peer of this.#blocked.keys()) if (!present.has(peer)) this.#blocked.delete(peer);

    const candidates: Candidate[] = [];
    for (const entry of entries) {
      if (this.#closed) return;
      const candidate = await this.#candidate(entry);
      if (candidate) candidates.push(candidate);
    }
    if (this.#closed) return;
    this.#seen = { advertised: entries.length, eligible: candidates.length };
    const inUse = new Set(
      [...this.subscriptions.values()].filter((s) => !s.retiring).map((s) => s.peer.peerId),
    );
    const infos = candidates.map((c) => c.info);
    const options = {
      prefer: this.#options.prefer,
      limit: this.#options.limit,
      self: this.#host.discovery.local.entry?.placement,
    };
    const chosen = new Set(choose(infos, inUse, options));
    this.#ranked = choose(infos, new Set(), { ...options, limit: Infinity })
      .map((id) => infos.find((i) => i.peerId === id)!);
    for (const sub of this.subscriptions.values()) {
      if (!sub.retiring && !chosen.has(sub.peer.peerId)) this.#untrack(sub);
    }
    for (const { info, expiresAt } of candidates) {
      if (chosen.has(info.peerId)) this.#use(info, expiresAt);
    }
    this.#changed();
  }

  /** The producer as a candidate, or `undefined` when it is not eligible (now). */
  async #candidate(entry: StreamsPeerEntry): Promise<Candidate | undefined> {
    const peer = entry.peerId;
    const version = entryVersion(entry);
    const blocked = this.#blocked.get(peer);
    if (blocked) {
      if (blocked.version === version && Date.now() < blocked.until) return undefined;
      this.#blocked.delete(peer);
    }
    const rtt = this.#host.rtt(peer);
    if (rtt === undefined && (this.#options.require.length > 0 || this.#options.prefer !== "any")) {
      this.#probe(entry);
      return undefined;
    }
    const info = peerInfo(entry, rtt);
    if (!allPass(this.#options.require, info)) {
      this.#untrackPeer(peer);
      return undefined;
    }
    if (this.#options.tickets.length === 0) return { info, expiresAt: undefined };
    let cached = this.#ticketCache.get(peer);
    if (!cached || cached.version !== version) {
      const networkId = this.#host.endpoint.networkId;
      cached = { version, result: checkPeerTickets(this.#options.tickets, info, networkId) };
      this.#ticketCache.set(peer, cached);
    }
    const verdict = await cached.result;
    if (!verdict.ok || (verdict.expiresAt ?? Infinity) <= Date.now()) {
      this.#untrackPeer(peer);
      return undefined;
    }
    return { info, expiresAt: verdict.expiresAt };
  }

  /** Subscribes to a chosen producer, or refreshes the subscription already there. */
  #use(info: PeerInfo, expiresAt: number | undefined): void {
    let sub = this.subscriptions.get(info.peerId);
    if (sub?.retiring) {
      sub.retiring = false;
      clearTimeout(sub.retireTimer);
    }
    if (sub) {
      sub.peer = info;
    } else {
      const fresh = new Subscription(this.#ctx, info);
      this.subscriptions.set(info.peerId, fresh);
      const task = fresh.run().then((end) => this.#ended(fresh, end));
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
      sub = fresh;
    }
    this.#armExpiry(sub, expiresAt);
  }

  #ended(sub: Subscription<T>, end: SubscriptionEnd): void {
    if (end === "terminal") return this.#terminate(sub);
    if (end === "refused") return this.#refused(sub);
    this.#untrack(sub);
  }

  #probe(entry: StreamsPeerEntry): void {
    const peer = entry.peerId;
    if (this.#probing.has(peer) || (this.#probeFailed.get(peer) ?? 0) > Date.now()) return;
    this.#probing.add(peer);
    this.#host.probe(peer, entry.addresses).then(
      () => this.#probeFailed.delete(peer),
      () => {
        this.#probeFailed.set(peer, Date.now() + PROBE_RETRY);
        this.#evaluateAt(Date.now() + PROBE_RETRY);
      },
    ).finally(() => {
      this.#probing.delete(peer);
      this.evaluate();
    });
  }

  /** Re-evaluates at `at` (ms since the epoch), keeping the earliest such time. */
  #evaluateAt(at: number): void {
    if (this.#closed || at >= this.#retryAt) return;
    clearTimeout(this.#retryTimer);
    this.#retryAt = at;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retryAt = Infinity;
      this.evaluate();
    }, Math.max(0, at - Date.now()));
  }

  #armExpiry(sub: Subscription<T>, expiresAt: number | undefined): void {
    sub.stopExpiry?.();
    sub.stopExpiry = undefined;
    if (expiresAt === undefined) return;
    sub.stopExpiry = scheduleAt(expiresAt, () => {
      this.#untrack(sub);
      this.evaluate();
    });
  }

  #untrackPeer(peer: PeerId): void {
    const sub = this.subscriptions.get(peer);
    if (sub) this.#untrack(sub);
  }

  /**
   * The producer left the catalog or stopped advertising the stream: an
   * open subscription is left to end on its own (the producer flushes
   * and closes it), within a grace period; nothing reconnects it.
   */
  #retire(sub: Subscription<T>): void {
    if (sub.channel === undefined) return this.#untrack(sub);
    if (sub.retiring) return;
    sub.retiring = true;
    sub.retireTimer = setTimeout(() => this.#untrack(sub), RETIRE_GRACE);
  }

  /** Stops using a producer now (local decision: ineligible, gone, closed). */
  #untrack(sub: Subscription<T>): void {
    if (this.subscriptions.get(sub.peer.peerId) !== sub) return;
    this.subscriptions.delete(sub.peer.peerId);
    sub.stop();
    this.#changed();
  }

  /** The producer refused or ended for good: do not retry until its entry changes. */
  #terminate(sub: Subscription<T>): void {
    this.#blocked.set(sub.peer.peerId, { version: sub.version, until: Infinity });
    this.#untrack(sub);
    this.evaluate();
  }

  /** The producer refused us: retry after a growing pause, or when its entry changes. */
  #refused(sub: Subscription<T>): void {
    const peer = sub.peer.peerId;
    const n = this.#refusals.get(peer) ?? 0;
    this.#refusals.set(peer, n + 1);
    const until = Date.now() + Math.min(REFUSAL_PAUSE * 2 ** n, REFUSAL_PAUSE_MAX);
    this.#blocked.set(peer, { version: sub.version, until });
    this.#untrack(sub);
    this.#evaluateAt(until);
  }

  /** Stops every subscription and waits for them to end. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#rerankTimer);
    this.#warning.close();
    const tasks = [...this.#tasks];
    for (const sub of [...this.subscriptions.values()]) this.#untrack(sub);
    await Promise.all(tasks);
  }
}
