/**
 * The fan-out worker of one stream on one node (private). Every producer
 * handle of the stream feeds it; it encodes each datum once, numbers it, and
 * pushes the shared bytes into each subscriber's bounded queue; one pump per
 * subscriber writes batches to that subscriber's own channel.
 *
 * @module
 */
import type { StreamsChannel } from "./link.ts";
import { CloseCode, type PeerId, scheduleAt, type StreamId } from "@mosaik/transport";
import {
  type ChannelInfo,
  type ChannelState,
  type ChannelStats,
  type Condition,
  conditionMet,
  emptyStats,
  Watch,
} from "./conditions.ts";
import {
  DatumTooLargeError,
  EncodeError,
  FullError,
  OfflineError,
  ProducerClosedError,
} from "./errors.ts";
import type { Host } from "./_host.ts";
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
import {
  controlFromWire,
  controlToWire,
  encodeBatch,
  encodeEnd,
  ITEM_HEADER,
  MAX_DELTA,
} from "./_wire.ts";

/** What to do when a subscriber's queue is full. */
export type LaggingPolicy = "disconnect" | "drop" | "block";

/** Producer options after defaults. */
export interface SinkConfig<T> {
  maxConsumers: number;
  bufferSize: number;
  lagging: LaggingPolicy;
  require: PeerPredicate[];
  requireTicket: TicketValidator[];
  onlineWhen: Condition;
  undelivered: ((datum: T) => void) | undefined;
  maxBatchBytes: number;
  lagTimeout: number;
}

const RESOLVED = Promise.resolve();
const PROBE_TIMEOUT = 5_000;
/** How long a consumer that lagged gets no grace period again (ms). */
const LAG_MEMORY = 30_000;
/** Longest run (ms) of sends that reach nobody before `send` yields to the event loop. */
const YIELD_EVERY = 10;
/** A subscriber whose pump has not moved for this many `lagTimeout`s stopped reading. */
const STALL_FACTOR = 10;

/** One subscriber, seen by the producer. */
class Outbound {
  state: ChannelState = "connecting";
  readonly stats: ChannelStats = emptyStats();
  seqs: number[] = [];
  datas: Uint8Array[] = [];
  head = 0;
  /** When the queue became full; cleared once it drains below half. */
  fullSince: number | undefined;
  /** When the pump last took datums from the queue, or work arrived in an empty queue. */
  lastProgress: number = Date.now();
  /** When the subscription was admitted. */
  readonly admittedAt: number = Date.now();
  /** Set when the subscription is over (pump and reader exit). */
  closed = false;
  /** Set for a graceful end: flush, send the end frame, close with 204. */
  ending = false;
  version: unknown;
  stopExpiry: (() => void) | undefined;
  /** Resolves when the subscription is over. */
  readonly done: Promise<void>;
  resolveDone!: () => void;
  #wake: (() => void) | undefined;

  constructor(readonly channel: StreamsChannel, public peer: PeerInfo) {
    this.version = entryVersion(peer.entry);
    this.done = new Promise((r) => this.resolveDone = r);
  }

  get length(): number {
    return this.seqs.length - this.head;
  }

  push(seq: number, data: Uint8Array): void {
    this.seqs.push(seq);
    this.datas.push(data);
    this.wake();
  }

  wake(): void {
    const w = this.#wake;
    if (w) {
      this.#wake = undefined;
      w();
    }
  }

  waitForWork(): Promise<void> {
    return new Promise((r) => this.#wake = r);
  }
}

/** The fan-out worker of one stream on this node. */
export class Sink<T> {
  readonly id: StreamId;
  handles = 0;
  online = false;
  closed = false;
  readonly watch: Watch = new Watch();
  /** Accepted datums, datums with no subscriber, and admissions/rejections. */
  readonly counters = { sent: 0, undelivered: 0, accepted: 0, rejected: 0, lagged: 0 };
  readonly #subs = new Set<Outbound>();
  /** Counters of subscriptions that ended. */
  readonly #retired: ChannelStats = emptyStats();
  #lagTimer: ReturnType<typeof setTimeout> | undefined;
  /** When each consumer peer last lagged. */
  readonly #laggards = new Map<PeerId, number>();
  /** The last datum reached nobody or was dropped for someone. */
  #spinning = false;
  #lastYield = 0;
  readonly #epoch = crypto.getRandomValues(new Uint32Array(1))[0];
  #seq = 0;

  constructor(
    readonly host: Host,
    readonly def: StreamDef<T>,
    readonly config: SinkConfig<T>,
  ) {
    this.id = def.id;
    this.online = conditionMet(config.onlineWhen, this.#subs);
  }

  // ---- sending ---------------------------------------------------------------

  trySend(datum: T): void {
    if (this.closed) throw new ProducerClosedError(datum);
    if (!this.online) throw new OfflineError(datum);
    let bytes: Uint8Array;
    try {
      bytes = this.def.codec.encode(datum);
    } catch (e) {
      throw new EncodeError(datum, e);
    }
    if (bytes.length > this.host.maxDatumSize) {
      throw new DatumTooLargeError(datum, bytes.length, this.host.maxDatumSize);
    }
    if (!this.#canDispatch()) throw new FullError(datum);
    this.#dispatch(datum, bytes);
  }

  send(datum: T): Promise<void> {
    if (this.online && !this.closed && this.#canDispatch()) {
      try {
        this.trySend(datum);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.#maybeYield();
    }
    return this.#sendSlow(datum);
  }

  async #sendSlow(datum: T): Promise<void> {
    for (;;) {
      if (this.closed) throw new ProducerClosedError(datum);
      if (!this.online) {
        await this.watch.until(() => this.online || this.closed).catch(() => {});
        continue;
      }
      if (!this.#canDispatch()) {
        await this.watch.until(() => this.closed || !this.online || this.#canDispatch())
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

  /**
   * Whether a datum can go out now: no subscriber with a full queue, except
   * lagging ones (the lagging policy applies to them). A subscriber that is
   * merely behind holds the datum back instead of being punished: `send`
   * waits for it, which is the producer's backpressure.
   */
  #canDispatch(): boolean {
    const max = this.config.bufferSize;
    let now = 0;
    for (const s of this.#subs) {
      if (s.closed || s.ending || s.length < max) continue;
      if (this.config.lagging === "block") return false;
      now ||= Date.now();
      if (!this.#lagging(s, now)) return false;
    }
    return true;
  }

  /**
   * A full subscriber lags when its pump has not moved for ten times
   * `lagTimeout` (the consumer stopped reading; a merely slow link still moves
   * a frame now and then), or when it has stayed behind (not drained
   * below half) for `lagTimeout` while another subscriber keeps up (is below
   * half, see {@linkcode Sink.#keepsUp}). When every subscriber is behind, the producer is simply faster
   * than the network: nobody lags, sends wait. A peer that lagged lags again
   * at once for {@linkcode LAG_MEMORY}, so it cannot stall the producer once
   * per reconnect.
   */
  #lagging(sub: Outbound, now: number): boolean {
    const lagTimeout = this.config.lagTimeout;
    const at = this.#laggards.get(sub.peer.peerId);
    if (at !== undefined) {
      if (now - at < LAG_MEMORY) return true;
      this.#laggards.delete(sub.peer.peerId);
    }
    if (now - sub.lastProgress >= lagTimeout * STALL_FACTOR) return true;
    if (sub.fullSince === undefined || now - sub.fullSince < lagTimeout) return false;
    const half = this.config.bufferSize / 2;
    for (const other of this.#subs) {
      if (other !== sub && other.length < half && this.#keepsUp(other, now)) return true;
    }
    return false;
  }

  /**
   * Whether a subscriber is a fair yardstick of "keeping up": connected for
   * at least `lagTimeout` and not a recent laggard (a laggard that just
   * reconnected has an empty queue but proves nothing).
   */
  #keepsUp(sub: Outbound, now: number): boolean {
    if (sub.closed || sub.ending || sub.state !== "connected") return false;
    if (now - sub.admittedAt < this.config.lagTimeout) return false;
    const at = this.#laggards.get(sub.peer.peerId);
    return at === undefined || now - at >= LAG_MEMORY;
  }

  #dispatch(datum: T, bytes: Uint8Array): void {
    const seq = this.#seq++;
    const max = this.config.bufferSize;
    this.counters.sent++;
    let delivered = false;
    let dropped = false;
    for (const sub of this.#subs) {
      if (sub.closed || sub.ending) continue;
      if (sub.length >= max) {
        sub.stats.dropped++;
        dropped = true;
        this.#laggards.set(sub.peer.peerId, Date.now());
        if (this.config.lagging === "disconnect") {
          this.counters.lagged++;
          this.#finish(sub, CloseCode.StreamTooSlow, "consumer too slow");
        }
        continue;
      }
      if (sub.length === 0) sub.lastProgress = Date.now(); // the stall clock starts with work
      sub.push(seq, bytes);
      delivered = true;
      if (sub.length >= max && sub.fullSince === undefined) {
        sub.fullSince = Date.now();
        this.#armLagTimer();
      }
    }
    this.#spinning = dropped || !delivered;
    if (!delivered) {
      this.counters.undelivered++;
      this.config.undelivered?.(datum);
    }
  }

  /** Re-checks waiting senders once a full subscriber may have turned lagging. */
  #armLagTimer(): void {
    if (this.#lagTimer !== undefined || this.config.lagging === "block") return;
    this.#lagTimer = setTimeout(() => {
      this.#lagTimer = undefined;
      if (this.closed) return;
      this.watch.notify();
      const now = Date.now();
      for (const s of this.#subs) {
        if (!s.closed && s.length >= this.config.bufferSize && !this.#lagging(s, now)) {
          return this.#armLagTimer();
        }
      }
    }, this.config.lagTimeout);
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
      rtt = await this.#ping(channel);
      if (rtt === undefined) return refuse(CloseCode.UnexpectedClose, "no answer to ping");
    }
    const info = peerInfo(entry, rtt);
    if (!allPass(this.config.require, info)) {
      return refuse(CloseCode.StreamNotAllowed, "not allowed");
    }
    const tickets = await checkTicketValidators(this.config.requireTicket, info);
    if (tickets === false) return refuse(CloseCode.StreamNotAllowed, "no valid ticket");
    if (this.closed) return refuse(CloseCode.StreamNotFound, "stream closed");
    if (this.#active() >= this.config.maxConsumers) {
      return refuse(CloseCode.StreamNoCapacity, "no capacity");
    }
    const sub = new Outbound(channel, info);
    this.#armExpiry(sub, tickets.expiresAt);
    this.#subs.add(sub);
    this.counters.accepted++;
    this.#pump(sub);
    this.#read(sub);
  }

  #active(): number {
    let n = 0;
    for (const s of this.#subs) if (!s.closed) n++;
    return n;
  }

  async #ping(channel: StreamsChannel): Promise<number | undefined> {
    const n = Math.floor(Math.random() * 2 ** 31);
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await channel.send(controlToWire({ t: "ping", n }));
      const timeout = new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), PROBE_TIMEOUT);
      });
      const m = await Promise.race([channel.recv(), timeout]);
      if (m === undefined) return undefined;
      const c = controlFromWire(m);
      if (c.t !== "pong" || c.n !== n) return undefined;
      const rtt = performance.now() - t0;
      this.host.recordRtt(channel.peerId, rtt);
      return rtt;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
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

  /** Writes the start message, then batches of queued datums, until the subscription ends. */
  async #pump(sub: Outbound): Promise<void> {
    const channel = sub.channel;
    const max = this.config.maxBatchBytes;
    try {
      await channel.send(controlToWire({
        t: "start",
        network: this.host.endpoint.networkId,
        stream: this.id,
        epoch: this.#epoch,
        seq: this.#seq,
      }));
      if (sub.closed) return;
      sub.state = "connected";
      sub.stats.connectedAt = Date.now();
      this.#changed();
      for (;;) {
        while (sub.length === 0) {
          if (sub.closed) return;
          if (sub.ending) {
            await channel.sendBytes(encodeEnd(this.#seq));
            this.#finish(sub, CloseCode.GracefulShutdown, "producer closed");
            return;
          }
          await sub.waitForWork();
        }
        if (sub.closed) return;
        const from = sub.head;
        let to = from + 1;
        let size = sub.datas[from].length + ITEM_HEADER;
        while (
          to < sub.seqs.length && size + sub.datas[to].length + ITEM_HEADER <= max &&
          sub.seqs[to] - sub.seqs[to - 1] <= MAX_DELTA
        ) {
          size += sub.datas[to].length + ITEM_HEADER;
          to++;
        }
        const frame = encodeBatch(sub.seqs, sub.datas, from, to);
        if (to === sub.seqs.length) {
          sub.seqs = [];
          sub.datas = [];
          sub.head = 0;
        } else {
          sub.head = to;
          if (sub.head > 4096) {
            sub.seqs = sub.seqs.slice(sub.head);
            sub.datas = sub.datas.slice(sub.head);
            sub.head = 0;
          }
        }
        if (to - from + sub.length >= this.config.bufferSize) this.watch.notify(); // room again
        // behind until it drains below half (hysteresis): a consumer that frees one
        // slot at a time is still behind
        sub.lastProgress = Date.now();
        if (sub.length < this.config.bufferSize / 2) sub.fullSince = undefined;
        await channel.sendBytes(frame);
        // A small frame: wait for QUIC to take it, so datums queue up meanwhile
        // and go out as one batch. A full one: keep the pipe full (sendBytes
        // itself waits once the channel buffers more than its high-water mark).
        if (size < max / 2) await channel.flush();
        sub.stats.datums += to - from;
        sub.stats.bytes += size - (to - from) * ITEM_HEADER;
      }
    } catch {
      this.#finish(sub, CloseCode.UnexpectedClose, "send failed");
    }
  }

  /** Waits for the consumer to go away (it sends nothing after its handshake). */
  async #read(sub: Outbound): Promise<void> {
    try {
      while (!sub.closed) {
        const m = await sub.channel.recv();
        if (m === undefined) break;
      }
    } catch {
      // closed by the consumer (Cancelled) or broken: either way it is over
    }
    this.#finish(sub, CloseCode.Cancelled, "consumer left");
  }

  #finish(sub: Outbound, code: number, reason: string): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.state = "terminated";
    sub.stats.connectedAt = undefined;
    sub.stopExpiry?.();
    sub.seqs = [];
    sub.datas = [];
    sub.head = 0;
    sub.wake();
    sub.resolveDone();
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
    this.watch.notify();
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
        const tickets = await checkTicketValidators(this.config.requireTicket, info);
        if (tickets === false) this.#finish(sub, CloseCode.StreamNotAllowed, "no valid ticket");
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
    return this.watch.until(() => conditionMet(condition, this.#subs), signal);
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
    clearTimeout(this.#lagTimer);
    const subs = [...this.#subs];
    for (const sub of subs) {
      sub.ending = true;
      sub.wake();
    }
    this.watch.notify();
    this.watch.close(new ProducerClosedError(undefined));
    await Promise.all(subs.map((s) => this.#closedOrTimeout(s)));
  }

  async #closedOrTimeout(sub: Outbound): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      sub.done,
      new Promise<void>((r) => timer = setTimeout(r, 1_000)),
    ]);
    clearTimeout(timer);
    this.#finish(sub, CloseCode.GracefulShutdown, "producer closed");
  }
}
