/**
 * The consumer handle: receive the datums of a stream from every eligible
 * producer in the catalog.
 *
 * @module
 */
import type { StreamsChannel } from "./link.ts";
import {
  ChannelClosedError,
  CloseCode,
  ClosedError,
  ConnectError,
  DecodeError,
  type PeerId,
  scheduleAt,
  type StreamId,
} from "@mosaik/transport";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import {
  type ChannelInfo,
  type ChannelState,
  type ChannelStats,
  type Condition,
  conditionMet,
  emptyStats,
  Watch,
} from "./conditions.ts";
import { type Host, sleep } from "./_host.ts";
import {
  allPass,
  checkTicketValidators,
  entryVersion,
  type PeerInfo,
  peerInfo,
  type PeerPredicate,
  type StreamsPeerEntry,
  type TicketValidator,
} from "./peer.ts";
import type { StreamDef } from "./stream.ts";
import { choose, type Preference } from "./rank.ts";
import {
  type Control,
  controlFromWire,
  controlToWire,
  decodeDataFrame,
  PROTOCOL,
} from "./_wire.ts";

/** Options of {@linkcode Streams.consume}. */
export interface ConsumerOptions {
  /** Conditions producers must meet (AND), over their latest entry and RTT; re-checked on catalog changes. */
  require?: PeerPredicate | PeerPredicate[];
  /** Ticket validators producers must pass (all of them). */
  requireTicket?: TicketValidator | TicketValidator[];
  /** When the consumer counts as online. Default `{ minimum: 0 }`: at once. */
  onlineWhen?: Condition;
  /** Reconnect backoff per producer. Default: the `Streams` default (500 ms, ×1.5, ±50 %, ≤ 60 s). */
  backoff?: BackoffOptions;
  /**
   * How to choose among eligible producers: `"any"` (default, catalog order),
   * `"latency"` (lowest RTT, measured or predicted, first), `"region"` (our
   * region, zone, nearest location, then RTT) or a comparator. Together with
   * `limit` this picks the k best producers, fails over to the next one when
   * one goes away, and re-ranks every 2 s as RTTs change, moving only to a
   * clearly better producer (see `SWITCH_RATIO`).
   */
  prefer?: Preference;
  /** Subscribe to at most this many producers at once. Default unlimited. */
  limit?: number;
  /**
   * Capacity of the receive queue in datums. When set, the consumer stops
   * reading from its producers while the queue is full, so a slow
   * application pushes back through QUIC flow control to the producer (whose
   * lagging policy then applies). Default: unbounded (never pushes back).
   */
  bufferSize?: number;
}

/**
 * Aggregate counters of a consumer, cumulative over every producer it used;
 * `queued` counts datums received and not yet taken by the application.
 */
export type ConsumerStats = ChannelStats;

const HANDSHAKE_TIMEOUT = 10_000;
/** Period of re-measuring and re-ranking producers under `prefer` and `limit`. */
const RERANK = 2_000;
/** Producers not in use re-measured per re-rank, best ranked first. */
const RERANK_PROBES = 3;
const PROBE_RETRY = 5_000;
/** Close codes after which a producer is not retried until its entry changes. */
const TERMINAL = new Set<number>([
  CloseCode.GracefulShutdown,
  CloseCode.ProtocolViolation,
  CloseCode.DifferentNetwork,
  CloseCode.StreamNotFound,
]);
/**
 * Close codes that judge *our* entry (tags, tickets): retried after a
 * growing pause (1 s, 2 s, … 30 s) or as soon as the producer's entry
 * changes, since our own entry may have changed meanwhile.
 */
const REFUSED = new Set<number>([CloseCode.StreamNotAllowed, CloseCode.StreamTicketExpired]);
const REFUSAL_PAUSE = 1_000;
const RETIRE_GRACE = 3_000;
const REFUSAL_PAUSE_MAX = 30_000;

/** One producer, seen by the consumer. */
class Inbound {
  state: ChannelState = "connecting";
  readonly stats: ChannelStats = emptyStats();
  readonly abort = new AbortController();
  channel: StreamsChannel | undefined;
  connectedOnce = false;
  /** Gone from the catalog: let the current session end, then stop. */
  retiring = false;
  retireTimer: ReturnType<typeof setTimeout> | undefined;
  version: unknown;
  stopExpiry: (() => void) | undefined;
  task: Promise<void> = Promise.resolve();
  constructor(public peer: PeerInfo) {
    this.version = entryVersion(peer.entry);
  }
}

/** Where the consumer is in one producer's sequence. */
interface Cursor {
  epoch: number;
  next: number;
  /** The producer's next sequence number when it ended the stream, if it said. */
  ended: number | undefined;
}

/**
 * Receives one stream from every eligible producer (fan-in, in arrival
 * order; per producer in send order). Iterate it, or call `recv`.
 *
 * @example
 * ```ts ignore
 * await using consumer = network.streams.consume(Prices);
 * for await (const price of consumer) console.log(price);
 * ```
 */
export class Consumer<T> implements AsyncIterable<T>, AsyncDisposable {
  readonly #host: Host;
  readonly #def: StreamDef<T>;
  readonly #require: PeerPredicate[];
  readonly #tickets: TicketValidator[];
  readonly #options: ConsumerOptions;
  readonly #inbound = new Map<PeerId, Inbound>();
  readonly #blocked = new Map<PeerId, { version: unknown; until: number }>();
  readonly #refusals = new Map<PeerId, number>();
  readonly #cursors = new Map<PeerId, Cursor>();
  readonly #probing = new Set<PeerId>();
  readonly #probeFailed = new Map<PeerId, number>();
  readonly #ticketCache = new Map<
    PeerId,
    { version: unknown; result: Promise<false | { expiresAt: number | undefined }> }
  >();
  readonly #watch = new Watch();
  readonly #stats = emptyStats();
  #items: T[] = [];
  #head = 0;
  #takers: ((v: T | undefined) => void)[] = [];
  #space: (() => void)[] = [];
  #online = false;
  #closed = false;
  #evaluating = false;
  #again = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #rerankTimer: ReturnType<typeof setInterval> | undefined;
  #ranked: PeerInfo[] = [];

  /** Use {@linkcode Streams.consume}. */
  constructor(host: Host, def: StreamDef<T>, options: ConsumerOptions = {}) {
    this.#host = host;
    this.#def = def;
    this.#options = options;
    this.#require = [options.require ?? []].flat();
    this.#tickets = [options.requireTicket ?? []].flat();
    this.#online = conditionMet(this.#onlineWhen, this.#inbound.values());
    this.evaluate();
    if ((options.prefer ?? "any") !== "any" && options.limit !== undefined) {
      this.#rerankTimer = setInterval(() => this.#remeasure(), RERANK);
    }
  }

  /** Re-measures the producers in use and the best candidates, then re-ranks. */
  #remeasure(): void {
    const inUse = [...this.#inbound.values()].filter((i) => !i.retiring).map((i) => i.peer);
    const candidates = this.#ranked.filter((p) => !this.#inbound.has(p.peerId));
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

  get #onlineWhen(): Condition {
    return this.#options.onlineWhen ?? { minimum: 0 };
  }

  /** The stream's id. */
  get streamId(): StreamId {
    return this.#def.id;
  }

  /** The stream's declared name. */
  get name(): string {
    return this.#def.name;
  }

  /** Whether the `onlineWhen` condition holds. */
  get online(): boolean {
    return this.#online;
  }

  /** Whether {@linkcode Consumer.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---- receiving -------------------------------------------------------------

  /** The next datum; `undefined` once the consumer is closed and drained. */
  recv(): Promise<T | undefined> {
    if (this.#head < this.#items.length) return Promise.resolve(this.#take());
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((r) => this.#takers.push(r));
  }

  /** The next datum if one is queued, else `undefined`; throws {@linkcode ClosedError} once closed and drained. */
  tryRecv(): T | undefined {
    if (this.#head < this.#items.length) return this.#take();
    if (this.#closed) throw new ClosedError("the consumer is closed");
    return undefined;
  }

  /** Iterates datums until the consumer is closed (leaving the loop early does not close it). */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#head < this.#items.length) {
        yield this.#take();
        continue;
      }
      if (this.#closed) return;
      const v = await new Promise<T | undefined>((r) => this.#takers.push(r));
      if (v === undefined && this.#closed) return;
      yield v as T;
    }
  }

  #take(): T {
    const v = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#space.length > 0 && this.#queued() < (this.#options.bufferSize ?? Infinity)) {
      for (const r of this.#space.splice(0)) r();
    }
    return v;
  }

  #queued(): number {
    return this.#items.length - this.#head;
  }

  #deliver(values: T[]): void {
    let i = 0;
    while (i < values.length && this.#takers.length > 0) this.#takers.shift()!(values[i++]);
    for (; i < values.length; i++) this.#items.push(values[i]);
  }

  #roomFor(signal: AbortSignal): Promise<void> | undefined {
    const max = this.#options.bufferSize;
    if (max === undefined || this.#queued() < max || signal.aborted) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#space.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  // ---- status ----------------------------------------------------------------

  /** The producers this consumer is subscribed to (including ones reconnecting). */
  producers(): ChannelInfo[] {
    const self = this.#host.endpoint.peerId;
    return [...this.#inbound.values()].map((i) => ({
      streamId: this.#def.id,
      producerId: i.peer.peerId,
      consumerId: self,
      peer: i.peer,
      state: i.state,
      stats: { ...i.stats },
    }));
  }

  /** Aggregate counters. */
  get stats(): ConsumerStats {
    return { ...this.#stats, queued: this.#queued() };
  }

  /** Promises about the consumer's state; each resolves at once if it already holds. */
  get when(): {
    /** Resolves when the consumer is online. */
    online(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when it is offline. */
    offline(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition over connected producers holds (default: at least one). */
    subscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition does not hold (default: no connected producer). */
    unsubscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
  } {
    const met = (c: Condition) => () => conditionMet(c, this.#inbound.values());
    return {
      online: (o) => this.#watch.until(() => this.#online, o?.signal),
      offline: (o) => this.#watch.until(() => !this.#online, o?.signal),
      subscribed: (c = {}) => this.#watch.until(met(c), c.signal),
      unsubscribed: (c = {}) => this.#watch.until(met({ ...c, unmet: !c.unmet }), c.signal),
    };
  }

  #changed(): void {
    this.#online = !this.#closed && conditionMet(this.#onlineWhen, this.#inbound.values());
    this.#watch.notify();
  }

  // ---- choosing producers ----------------------------------------------------

  /** Re-evaluates which producers to use (called on every catalog change). */
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
        console.error("mosaik streams: choosing producers failed", e);
      } finally {
        this.#evaluating = false;
      }
    });
  }

  async #evaluateOnce(): Promise<void> {
    const host = this.#host;
    const self = host.endpoint.peerId;
    const id = this.#def.id;
    const entries = host.discovery.catalog.withStream(id)
      .filter((e) => e.peerId !== self && e.streams.includes(id));
    const present = new Set(entries.map((e) => e.peerId));
    for (const inb of this.#inbound.values()) if (!present.has(inb.peer.peerId)) this.#retire(inb);
    for (const peer of this.#blocked.keys()) if (!present.has(peer)) this.#blocked.delete(peer);

    const needRtt = this.#require.length > 0 || (this.#options.prefer ?? "any") !== "any";
    const eligible: { info: PeerInfo; expiresAt: number | undefined }[] = [];
    for (const entry of entries) {
      if (this.#closed) return;
      const peer = entry.peerId;
      const version = entryVersion(entry);
      const blocked = this.#blocked.get(peer);
      if (blocked) {
        if (blocked.version === version && Date.now() < blocked.until) continue;
        this.#blocked.delete(peer);
      }
      const rtt = host.rtt(peer);
      if (rtt === undefined && needRtt) {
        this.#probe(entry);
        continue;
      }
      const info = peerInfo(entry, rtt);
      if (!allPass(this.#require, info)) {
        this.#untrackPeer(peer);
        continue;
      }
      let expiresAt: number | undefined;
      if (this.#tickets.length > 0) {
        let cached = this.#ticketCache.get(peer);
        if (!cached || cached.version !== version) {
          cached = { version, result: checkTicketValidators(this.#tickets, info) };
          this.#ticketCache.set(peer, cached);
        }
        const verdict = await cached.result;
        if (verdict === false || (verdict.expiresAt ?? Infinity) <= Date.now()) {
          this.#untrackPeer(peer);
          continue;
        }
        expiresAt = verdict.expiresAt;
      }
      eligible.push({ info, expiresAt });
    }
    if (this.#closed) return;
    const inUse = new Set(
      [...this.#inbound.values()].filter((i) => !i.retiring).map((i) => i.peer.peerId),
    );
    const infos = eligible.map((e) => e.info);
    const options = { ...this.#options, self: host.discovery.local.entry?.placement };
    const chosen = new Set(choose(infos, inUse, options));
    this.#ranked = choose(infos, new Set(), { ...options, limit: Infinity })
      .map((id) => infos.find((i) => i.peerId === id)!);
    for (const inb of this.#inbound.values()) {
      if (!inb.retiring && !chosen.has(inb.peer.peerId)) this.#untrack(inb);
    }
    for (const { info, expiresAt } of eligible) {
      if (!chosen.has(info.peerId)) continue;
      let inb = this.#inbound.get(info.peerId);
      if (inb?.retiring) {
        inb.retiring = false;
        clearTimeout(inb.retireTimer);
      }
      if (inb) {
        inb.peer = info;
      } else {
        inb = new Inbound(info);
        this.#inbound.set(info.peerId, inb);
        inb.task = this.#run(inb);
      }
      this.#armExpiry(inb, expiresAt);
    }
    this.#changed();
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

  #retryAt = Infinity;

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

  #armExpiry(inb: Inbound, expiresAt: number | undefined): void {
    inb.stopExpiry?.();
    inb.stopExpiry = undefined;
    if (expiresAt === undefined) return;
    inb.stopExpiry = scheduleAt(expiresAt, () => {
      this.#untrack(inb);
      this.evaluate();
    });
  }

  #untrackPeer(peer: PeerId): void {
    const inb = this.#inbound.get(peer);
    if (inb) this.#untrack(inb);
  }

  /**
   * The producer left the catalog or stopped advertising the stream: an
   * open subscription is left to end on its own (the producer flushes
   * and closes it), within a grace period; nothing reconnects it.
   */
  #retire(inb: Inbound): void {
    if (inb.channel === undefined) return this.#untrack(inb);
    if (inb.retiring) return;
    inb.retiring = true;
    inb.retireTimer = setTimeout(() => this.#untrack(inb), RETIRE_GRACE);
  }

  /** Stops using a producer now (local decision: ineligible, gone, closed). */
  #untrack(inb: Inbound): void {
    if (this.#inbound.get(inb.peer.peerId) !== inb) return;
    this.#inbound.delete(inb.peer.peerId);
    inb.stopExpiry?.();
    clearTimeout(inb.retireTimer);
    inb.state = "terminated";
    inb.stats.connectedAt = undefined;
    inb.abort.abort();
    inb.channel?.close(CloseCode.Cancelled, "consumer left").catch(() => {});
    this.#changed();
  }

  /** The producer refused or ended for good: do not retry until its entry changes. */
  #terminate(inb: Inbound): void {
    this.#blocked.set(inb.peer.peerId, { version: inb.version, until: Infinity });
    this.#untrack(inb);
    this.evaluate();
  }

  /** The producer refused us: retry after a growing pause, or when its entry changes. */
  #refused(inb: Inbound): void {
    const peer = inb.peer.peerId;
    const n = this.#refusals.get(peer) ?? 0;
    this.#refusals.set(peer, n + 1);
    const until = Date.now() + Math.min(REFUSAL_PAUSE * 2 ** n, REFUSAL_PAUSE_MAX);
    this.#blocked.set(peer, { version: inb.version, until });
    this.#untrack(inb);
    this.#evaluateAt(until);
  }

  // ---- one producer ----------------------------------------------------------

  async #run(inb: Inbound): Promise<void> {
    const host = this.#host;
    const signal = inb.abort.signal;
    const backoff = new Backoff(this.#options.backoff ?? host.backoff);
    const peer = inb.peer.peerId;
    let attempt = 0;
    while (!signal.aborted) {
      if (attempt++ > 0 && !(await sleep(backoff.next(), signal))) break;
      const entry = host.discovery.catalog.get(peer) ?? inb.peer.entry;
      inb.version = entryVersion(entry);
      let channel: StreamsChannel | undefined;
      try {
        channel = await host.endpoint.open(peer, [...entry.addresses], PROTOCOL, { signal });
        inb.channel = channel;
        if (signal.aborted) {
          channel.close(CloseCode.Cancelled, "consumer left").catch(() => {});
          break;
        }
        await channel.send(controlToWire({
          t: "subscribe",
          network: host.endpoint.networkId,
          stream: this.#def.id,
        }));
        const start = await this.#handshake(channel);
        if (start.network !== host.endpoint.networkId) {
          await channel.close(CloseCode.DifferentNetwork, "different network").catch(() => {});
          return this.#terminate(inb);
        }
        if (start.stream !== this.#def.id) {
          await channel.close(CloseCode.StreamNotFound, "wrong stream").catch(() => {});
          return this.#terminate(inb);
        }
        this.#started(inb, start.epoch, start.seq);
        backoff.reset();
        for (;;) {
          const room = this.#roomFor(signal);
          if (room) await room;
          if (signal.aborted) break;
          const frame = await channel.recvBytes();
          if (frame === undefined) break;
          this.#frame(inb, frame);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof DecodeError) {
          await channel?.close(CloseCode.ProtocolViolation, e.message).catch(() => {});
          return this.#terminate(inb);
        }
        const code = e instanceof ChannelClosedError
          ? e.code
          : e instanceof ConnectError
          ? e.closeCode
          : undefined;
        if (code !== undefined && TERMINAL.has(code)) return this.#terminate(inb);
        if (code !== undefined && REFUSED.has(code)) return this.#refused(inb);
        if (code === CloseCode.UnknownPeer) {
          // the producer does not know us yet: push our entry to it, then retry
          try {
            await host.discovery.syncWith?.(peer);
          } catch {
            // retry anyway; gossip may bring our entry there meanwhile
          }
        }
      }
      inb.channel = undefined;
      channel?.close(CloseCode.Cancelled, "reconnecting").catch(() => {});
      if (inb.retiring) return this.#untrack(inb);
      if (inb.state === "connected") {
        inb.state = "connecting";
        inb.stats.connectedAt = undefined;
        this.#changed();
      }
    }
  }

  async #handshake(channel: StreamsChannel): Promise<Extract<Control, { t: "start" }>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ChannelClosedError(CloseCode.UnexpectedClose, "handshake timeout")),
        HANDSHAKE_TIMEOUT,
      );
    });
    try {
      for (;;) {
        const m = await Promise.race([channel.recv(), timeout]);
        if (m === undefined) {
          throw new ChannelClosedError(CloseCode.UnexpectedClose, "closed during handshake");
        }
        const c = controlFromWire(m);
        if (c.t === "start") return c;
        if (c.t !== "ping") throw new DecodeError(`unexpected ${c.t} in handshake`);
        await channel.send(controlToWire({ t: "pong", n: c.n }));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #started(inb: Inbound, epoch: number, seq: number): void {
    const peer = inb.peer.peerId;
    const cursor = this.#cursors.get(peer);
    if (cursor) {
      const missed = cursor.epoch === epoch
        ? seq - cursor.next
        : seq + Math.max(0, (cursor.ended ?? cursor.next) - cursor.next);
      if (missed > 0) this.#gap(inb, missed);
    }
    this.#cursors.set(peer, { epoch, next: seq, ended: undefined });
    this.#refusals.delete(peer);
    if (inb.connectedOnce) {
      inb.stats.reconnects++;
      this.#stats.reconnects++;
    }
    inb.connectedOnce = true;
    inb.state = "connected";
    inb.stats.connectedAt = Date.now();
    this.#changed();
  }

  #gap(inb: Inbound, missed: number): void {
    inb.stats.gaps++;
    inb.stats.missed += missed;
    this.#stats.gaps++;
    this.#stats.missed += missed;
  }

  #frame(inb: Inbound, frame: Uint8Array): void {
    const cursor = this.#cursors.get(inb.peer.peerId)!;
    const data = decodeDataFrame(frame);
    if (data.kind === "end") {
      cursor.ended = data.nextSeq;
      return;
    }
    const codec = this.#def.codec;
    const values = new Array<T>(data.datas.length);
    let bytes = 0;
    for (let i = 0; i < values.length; i++) {
      try {
        values[i] = codec.decode(data.datas[i]);
      } catch (cause) {
        throw cause instanceof DecodeError
          ? cause
          : new DecodeError(`undecodable datum: ${cause}`, { cause });
      }
      bytes += data.datas[i].length;
    }
    const first = data.seqs[0];
    if (first > cursor.next) this.#gap(inb, first - cursor.next);
    for (let i = 1; i < data.seqs.length; i++) {
      const d = data.seqs[i] - data.seqs[i - 1] - 1;
      if (d > 0) this.#gap(inb, d);
    }
    cursor.next = data.seqs[data.seqs.length - 1] + 1;
    inb.stats.datums += values.length;
    inb.stats.bytes += bytes;
    this.#stats.datums += values.length;
    this.#stats.bytes += bytes;
    this.#deliver(values);
  }

  // ---- closing ---------------------------------------------------------------

  /** Unsubscribes from every producer (they see `Cancelled`) and ends iteration. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#rerankTimer);
    const tasks = [...this.#inbound.values()].map((i) => i.task);
    for (const inb of [...this.#inbound.values()]) this.#untrack(inb);
    for (const r of this.#takers.splice(0)) r(undefined);
    for (const r of this.#space.splice(0)) r();
    this.#watch.close(new ClosedError("the consumer is closed"));
    this.#host.consumerClosed(this);
    await Promise.all(tasks);
  }

  /** Same as {@linkcode Consumer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
