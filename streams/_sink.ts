/**
 * The fan-out worker of one stream on one node (private). Every producer
 * handle of the stream feeds it; it encodes each datum once, numbers it, and
 * pushes the shared bytes into each subscriber's bounded queue; one pump per
 * subscriber writes batches to that subscriber's own channel.
 *
 * @module
 */
import type { StreamsChannel } from "./link.ts";
import {
  CloseCode,
  copyBytes,
  deadline,
  encodeView,
  scheduleAt,
  type StreamId,
  type TicketValidator,
  type TicketVerdict,
  Waiter,
} from "@mosaik/transport";
import {
  type ChannelInfo,
  type ChannelStats,
  type Condition,
  conditionMet,
  emptyStats,
} from "./conditions.ts";
import {
  DatumEncodeError,
  DatumTooLargeError,
  FullError,
  ProducerClosedError,
  ProducerOfflineError,
} from "./errors.ts";
import type { Host } from "./_host.ts";
import {
  allPass,
  checkPeerTickets,
  entryVersion,
  type PeerInfo,
  peerInfo,
  type PeerPredicate,
  type StreamsPeerEntry,
} from "./peer.ts";
import { type StreamDef, VIEW_ENCODERS } from "./stream.ts";
import { FrameCache, ITEM_HEADER, ping } from "./_wire.ts";
import { Outbound, type OutboundOwner } from "./_outbound.ts";
import { type LaggingPolicy, LagJudge } from "./_lagging.ts";

/** Producer options after defaults. */
export interface SinkConfig<T> {
  maxConsumers: number;
  bufferSize: number;
  lagging: LaggingPolicy;
  require: PeerPredicate[];
  requireTicket: readonly TicketValidator[];
  onlineWhen: Condition;
  undelivered: ((datum: T) => void) | undefined;
  maxBatchBytes: number;
  lagTimeout: number;
}

const RESOLVED = Promise.resolve();
/** How long a closing producer waits for each subscriber to take its last datums (ms). */
const CLOSE_GRACE = 1_000;
/** Longest run (ms) of sends that reach nobody before `send` yields to the event loop. */
const YIELD_EVERY = 10;

/** The fan-out worker of one stream on this node. */
export class Sink<T> {
  readonly id: StreamId;
  handles = 0;
  online = false;
  closed = false;
  readonly waiter: Waiter = new Waiter();
  /** Accepted datums, datums with no subscriber, and admissions/rejections. */
  readonly counters = { sent: 0, undelivered: 0, accepted: 0, rejected: 0, lagged: 0 };
  readonly #subs = new Set<Outbound>();
  /** Counters of subscriptions that ended. */
  readonly #retired: ChannelStats = emptyStats();
  readonly #lag: LagJudge;
  /** The last datum reached nobody or was dropped for someone. */
  #spinning = false;
  #lastYield = 0;
  #seq = 0;
  /** The batch the next datum may join, and its bytes so far (item headers included). */
  #batch = 0;
  #batchBytes = 0;
  readonly #owner: OutboundOwner;
  /**
   * Batch frames shared by subscribers in step: fan-out subscribers drift up
   * to tens of frames apart (8 frames: a 1→8 fan-out of 1 KiB datums encoded
   * ~4,500 frames per 800 batches; 32: each once).
   */
  readonly #frames = new FrameCache(32);
  /** Whether datums are encoded with `encodeView` and copied (see `VIEW_ENCODERS`). */
  readonly #viewEncoded: boolean;

  constructor(
    readonly host: Host,
    readonly def: StreamDef<T>,
    readonly config: SinkConfig<T>,
  ) {
    this.id = def.id;
    this.#viewEncoded = VIEW_ENCODERS.has(def.codec);
    this.online = conditionMet(config.onlineWhen, this.#subs);
    this.#lag = new LagJudge(config, this.#subs, () => this.waiter.notify());
    const epoch = crypto.getRandomValues(new Uint32Array(1))[0];
    // deno-lint-ignore no-this-alias
    const sink = this;
    this.#owner = {
      networkId: host.endpoint.networkId,
      streamId: def.id,
      bufferSize: config.bufferSize,
      maxBatchBytes: config.maxBatchBytes,
      epoch,
      get nextSeq() {
        return sink.#seq;
      },
      connected: () => this.#changed(),
      drained: () => this.waiter.notify(),
      emptied: () => this.#emptied(),
      batch: (seqs, datas, from, to) => this.#frames.batch(seqs, datas, from, to),
      finish: (sub, code, reason) => this.#finish(sub, code, reason),
    };
  }

  // ---- sending ---------------------------------------------------------------

  trySend(datum: T): void {
    if (this.closed) throw new ProducerClosedError(datum);
    if (!this.online) throw new ProducerOfflineError(datum);
    const bytes = this.#encode(datum);
    if (!this.#lag.canDispatch()) throw new FullError(datum);
    this.#dispatch(datum, bytes);
  }

  #encode(datum: T): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = this.#viewEncoded ? encodeView(datum) : this.def.codec.encode(datum);
    } catch (e) {
      throw new DatumEncodeError(datum, e);
    }
    if (bytes.length > this.host.maxDatumSize) {
      throw new DatumTooLargeError(datum, bytes.length, this.host.maxDatumSize);
    }
    return this.#viewEncoded ? copyBytes(bytes) : bytes;
  }

  send(datum: T): Promise<void> {
    if (this.online && !this.closed && this.#lag.canDispatch()) {
      let bytes: Uint8Array;
      try {
        bytes = this.#encode(datum);
      } catch (e) {
        return Promise.reject(e);
      }
      this.#dispatch(datum, bytes);
      return this.#maybeYield();
    }
    return this.#sendSlow(datum);
  }

  async #sendSlow(datum: T): Promise<void> {
    for (;;) {
      if (this.closed) throw new ProducerClosedError(datum);
      if (!this.online) {
        await this.waiter.wait(() => this.online || this.closed).catch(() => {});
        continue;
      }
      if (!this.#lag.canDispatch()) {
        await this.waiter.wait(() => this.closed || !this.online || this.#lag.canDispatch())
          .catch(() => {});
        continue;
      }
      this.trySend(datum);
      return this.#maybeYield();
    }
  }

  /**
   * When datums go nowhere (no subscriber, or every subscriber lagging) a
   * `while (...) await send(x)` loop would never wait and so starve the event
   * loop (and with it the pumps that would end the lag): give it a turn
   * every few milliseconds.
   */
  #maybeYield(): Promise<void> {
    if (!this.#spinning) return RESOLVED;
    const now = Date.now();
    if (now - this.#lastYield < YIELD_EVERY) return RESOLVED;
    this.#lastYield = now;
    return new Promise((r) => setTimeout(r, 0));
  }

  #dispatch(datum: T, bytes: Uint8Array): void {
    const seq = this.#seq++;
    // Batches are cut greedily up to the largest frame, once for every
    // subscriber: each frame of a subscriber that keeps up is full.
    const size = bytes.length + ITEM_HEADER;
    if (this.#batchBytes > 0 && this.#batchBytes + size > this.config.maxBatchBytes) {
      this.#batch++;
      this.#batchBytes = 0;
    }
    this.#batchBytes += size;
    const batch = this.#batch;
    const max = this.config.bufferSize;
    this.counters.sent++;
    let delivered = false;
    let dropped = false;
    for (const sub of this.#subs) {
      if (sub.closed || sub.ending) continue;
      if (sub.length >= max) {
        sub.stats.dropped++;
        dropped = true;
        this.#lag.dropped(sub);
        if (this.config.lagging === "disconnect") {
          this.counters.lagged++;
          this.#finish(sub, CloseCode.StreamTooSlow, "consumer too slow");
        }
        continue;
      }
      if (sub.length === 0) sub.lastProgress = Date.now(); // the stall clock starts with work
      sub.push(seq, bytes, batch);
      delivered = true;
      if (sub.length >= max) this.#lag.filled(sub);
    }
    this.#spinning = dropped || !delivered;
    if (!delivered) {
      this.counters.undelivered++;
      this.config.undelivered?.(datum);
    }
  }

  /** Every queue empty: no subscriber will take a cached frame again, so none is held. */
  #emptied(): void {
    for (const sub of this.#subs) if (sub.length > 0) return;
    this.#frames.clear();
  }

  // ---- subscriptions ---------------------------------------------------------

  /** Admits (or refuses) a consumer whose handshake asked for this stream. */
  async admit(channel: StreamsChannel, entry: StreamsPeerEntry): Promise<void> {
    const refuse = (code: number, reason: string) => {
      this.counters.rejected++;
      return channel.close(code, reason).catch(() => {});
    };
    if (this.closed) return refuse(CloseCode.StreamNotFound, "stream closed");
    if (this.#active() >= this.config.maxConsumers) {
      return refuse(CloseCode.StreamNoCapacity, "no capacity");
    }
    let rtt = this.host.rtt(channel.peerId);
    if (rtt === undefined && this.config.require.length > 0) {
      rtt = await ping(channel).catch(() => undefined);
      if (rtt === undefined) return refuse(CloseCode.UnexpectedClose, "no answer to ping");
      this.host.recordRtt(channel.peerId, rtt);
    }
    const info = peerInfo(entry, rtt);
    if (!allPass(this.config.require, info)) {
      return refuse(CloseCode.StreamNotAllowed, "not allowed");
    }
    const tickets = await this.#checkTickets(info);
    if (!tickets.ok) return refuse(CloseCode.StreamNotAllowed, "no valid ticket");
    if (this.closed) return refuse(CloseCode.StreamNotFound, "stream closed");
    if (this.#active() >= this.config.maxConsumers) {
      return refuse(CloseCode.StreamNoCapacity, "no capacity");
    }
    const sub = new Outbound(channel, info);
    this.#armExpiry(sub, tickets.expiresAt);
    this.#subs.add(sub);
    this.counters.accepted++;
    sub.pump(this.#owner);
    sub.read(this.#owner);
  }

  #checkTickets(peer: PeerInfo): Promise<TicketVerdict> {
    return checkPeerTickets(this.config.requireTicket, peer, this.host.endpoint.networkId);
  }

  #active(): number {
    let n = 0;
    for (const s of this.#subs) if (!s.closed) n++;
    return n;
  }

  #armExpiry(sub: Outbound, expiresAt: number | undefined): void {
    sub.stopExpiry?.();
    sub.stopExpiry = undefined;
    if (expiresAt === undefined) return;
    sub.stopExpiry = scheduleAt(
      expiresAt,
      () => this.#finish(sub, CloseCode.StreamTicketExpired, "ticket expired"),
    );
  }

  #finish(sub: Outbound, code: number, reason: string): void {
    if (!sub.end()) return;
    this.#subs.delete(sub);
    this.#retired.datums += sub.stats.datums;
    this.#retired.bytes += sub.stats.bytes;
    this.#retired.dropped += sub.stats.dropped;
    sub.channel.close(code, reason).catch(() => {});
    this.#changed();
  }

  #changed(): void {
    const online = !this.closed && conditionMet(this.config.onlineWhen, this.#subs);
    this.online = online;
    this.waiter.notify();
  }

  /** Re-checks subscribers of a peer whose entry changed or left. */
  async peerChanged(type: string, entry: StreamsPeerEntry): Promise<void> {
    for (const sub of this.#subs) {
      if (sub.peer.peerId !== entry.peerId || sub.closed) continue;
      if (type === "departed" || type === "expired") {
        this.#finish(sub, CloseCode.UnknownPeer, "your entry left the catalog");
        continue;
      }
      const info = peerInfo(entry, this.host.rtt(entry.peerId) ?? sub.peer.rtt);
      sub.peer = info;
      if (!allPass(this.config.require, info)) {
        this.#finish(sub, CloseCode.StreamNotAllowed, "no longer allowed");
        continue;
      }
      const version = entryVersion(entry);
      if (this.config.requireTicket.length > 0 && version !== sub.version) {
        sub.version = version;
        const tickets = await this.#checkTickets(info);
        if (!tickets.ok) this.#finish(sub, CloseCode.StreamNotAllowed, "no valid ticket");
        else if (!sub.closed) this.#armExpiry(sub, tickets.expiresAt);
      }
    }
    this.#changed();
  }

  // ---- status ----------------------------------------------------------------

  consumers(): ChannelInfo[] {
    const self = this.host.endpoint.peerId;
    return [...this.#subs].map((s) => ({
      streamId: this.id,
      producerId: self,
      consumerId: s.peer.peerId,
      peer: s.peer,
      state: s.state,
      stats: { ...s.stats, queued: s.length },
    }));
  }

  subscribed(condition: Condition, signal?: AbortSignal): Promise<void> {
    return this.waiter.wait(() => conditionMet(condition, this.#subs), { signal });
  }

  met(condition: Condition): boolean {
    return conditionMet(condition, this.#subs);
  }

  /** Total counters over all subscriptions, past and current. */
  totals(): ChannelStats {
    const t = { ...this.#retired };
    for (const s of this.#subs) {
      t.datums += s.stats.datums;
      t.bytes += s.stats.bytes;
      t.dropped += s.stats.dropped;
      t.queued += s.length;
    }
    return t;
  }

  /** Aggregate producer counters. */
  stats(): ChannelStats & Sink<T>["counters"] {
    return { ...this.totals(), ...this.counters };
  }

  /** The last handle closed: flush subscribers, end them with 204, stop advertising. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.online = false;
    this.#lag.close();
    const subs = [...this.#subs];
    for (const sub of subs) {
      sub.ending = true;
      sub.wake();
    }
    this.waiter.notify();
    this.waiter.close(new ProducerClosedError(undefined));
    await Promise.all(subs.map((s) => this.#closedOrTimeout(s)));
  }

  /** Gives a subscriber a moment to flush and say goodbye, then ends it anyway. */
  async #closedOrTimeout(sub: Outbound): Promise<void> {
    await deadline(sub.done, CLOSE_GRACE).catch(() => {});
    this.#finish(sub, CloseCode.GracefulShutdown, "producer closed");
  }
}
