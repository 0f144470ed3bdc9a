/**
 * One subscription of a consumer to one producer (private), the twin of the
 * producer's `Outbound`: dial, handshake, read batch frames into
 * the inbox, count gaps against the producer's sequence numbers, reconnect
 * with backoff. How it ended is returned to the selection, which decides
 * whether and when to try that producer again.
 *
 * @module
 */
import type { StreamsChannel } from "./link.ts";
import {
  ChannelClosedError,
  CloseCode,
  ConnectError,
  deadline,
  DecodeError,
  delay,
  type PeerId,
  TimeoutError,
} from "@mosaik/transport";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { type ChannelState, type ChannelStats, emptyStats } from "./conditions.ts";
import type { Host } from "./_host.ts";
import type { Inbox } from "./_inbox.ts";
import { entryVersion, type PeerInfo } from "./peer.ts";
import type { StreamDef } from "./stream.ts";
import {
  type Control,
  controlFromWire,
  controlToWire,
  decodeDataFrame,
  PROTOCOL,
} from "./_wire.ts";

const HANDSHAKE_TIMEOUT = 10_000;
/** Close codes after which a producer is not retried until its entry changes. */
const TERMINAL = new Set<number>([
  CloseCode.GracefulShutdown,
  CloseCode.ProtocolViolation,
  CloseCode.DifferentNetwork,
  CloseCode.StreamNotFound,
]);
/** Close codes that judge *our* entry (tags, tickets). */
const REFUSED = new Set<number>([CloseCode.StreamNotAllowed, CloseCode.StreamTicketExpired]);

/**
 * How a subscription ended: `"terminal"` (the producer ended the stream or
 * spoke nonsense), `"refused"` (it judged our entry), `"stopped"` (we
 * aborted it, or it was retiring and its session ended).
 */
export type SubscriptionEnd = "terminal" | "refused" | "stopped";

/** Where the consumer is in one producer's sequence; outlives subscriptions. */
export interface Cursor {
  epoch: number;
  next: number;
  /** The producer's next sequence number when it ended the stream, if it said. */
  ended: number | undefined;
}

/** What a subscription shares with its consumer. */
export interface SubscriptionContext<T> {
  readonly host: Host;
  readonly def: StreamDef<T>;
  readonly backoff: BackoffOptions;
  readonly inbox: Inbox<T>;
  /** Cursors per producer, kept across reconnects to count what was missed. */
  readonly cursors: Map<PeerId, Cursor>;
  /** The consumer's aggregate counters. */
  readonly totals: ChannelStats;
  /** A subscription connected or lost its connection. */
  changed(subscription: Subscription<T>): void;
}

/** One producer, seen by the consumer. */
export class Subscription<T> {
  state: ChannelState = "connecting";
  readonly stats: ChannelStats = emptyStats();
  readonly abort = new AbortController();
  channel: StreamsChannel | undefined;
  /** Gone from the catalog: let the current session end, then stop. */
  retiring = false;
  retireTimer: ReturnType<typeof setTimeout> | undefined;
  /** The producer's entry version the current (or last) session was opened against. */
  version: unknown;
  stopExpiry: (() => void) | undefined;
  #connectedOnce = false;
  readonly #ctx: SubscriptionContext<T>;

  constructor(ctx: SubscriptionContext<T>, public peer: PeerInfo) {
    this.#ctx = ctx;
    this.version = entryVersion(peer.entry);
  }

  /** Stops now: aborts the session and closes the channel with `Cancelled`. */
  stop(): void {
    this.stopExpiry?.();
    clearTimeout(this.retireTimer);
    this.state = "terminated";
    this.stats.connectedAt = undefined;
    this.abort.abort();
    this.channel?.close(CloseCode.Cancelled, "consumer left").catch(() => {});
  }

  /** Connects, reads, and reconnects with backoff until it ends; says how. */
  async run(): Promise<SubscriptionEnd> {
    const { host, def } = this.#ctx;
    const signal = this.abort.signal;
    const backoff = new Backoff(this.#ctx.backoff);
    const peer = this.peer.peerId;
    let attempt = 0;
    while (!signal.aborted) {
      if (attempt++ > 0) {
        try {
          await delay(backoff.next(), { signal });
        } catch {
          break; // stopped while waiting
        }
      }
      const entry = host.discovery.catalog.get(peer) ?? this.peer.entry;
      this.version = entryVersion(entry);
      let channel: StreamsChannel | undefined;
      try {
        channel = await host.endpoint.open(peer, [...entry.addresses], PROTOCOL, { signal });
        this.channel = channel;
        if (signal.aborted) break;
        await channel.send(controlToWire({
          t: "subscribe",
          network: host.endpoint.networkId,
          stream: def.id,
        }));
        const start = await handshake(channel, signal);
        if (start.network !== host.endpoint.networkId) {
          await channel.close(CloseCode.DifferentNetwork, "different network").catch(() => {});
          return "terminal";
        }
        if (start.stream !== def.id) {
          await channel.close(CloseCode.StreamNotFound, "wrong stream").catch(() => {});
          return "terminal";
        }
        this.#started(start.epoch, start.seq);
        backoff.reset();
        await this.#read(channel, signal);
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof DecodeError) {
          await channel?.close(CloseCode.ProtocolViolation, e.message).catch(() => {});
          return "terminal";
        }
        const code = e instanceof ChannelClosedError
          ? e.code
          : e instanceof ConnectError
          ? e.closeCode
          : undefined;
        if (code !== undefined && TERMINAL.has(code)) return "terminal";
        if (code !== undefined && REFUSED.has(code)) return "refused";
        if (code === CloseCode.UnknownPeer) {
          // the producer does not know us yet: push our entry to it, then retry
          await host.discovery.syncWith?.(peer).catch(() => {});
        }
      }
      this.channel = undefined;
      channel?.close(CloseCode.Cancelled, "reconnecting").catch(() => {});
      if (this.retiring) break;
      if (this.state === "connected") {
        this.state = "connecting";
        this.stats.connectedAt = undefined;
        this.#ctx.changed(this);
      }
    }
    this.channel?.close(CloseCode.Cancelled, "consumer left").catch(() => {});
    return "stopped";
  }

  async #read(channel: StreamsChannel, signal: AbortSignal): Promise<void> {
    const inbox = this.#ctx.inbox;
    // a frame is decoded before the next is read: with a copying codec no
    // datum holds on to it, so frames can share one buffer
    const reuse = this.#ctx.def.codec.copies === true;
    for (;;) {
      const room = inbox.room(signal);
      if (room) await room;
      if (signal.aborted) return;
      const frame = await channel.recvBytes({ reuse });
      if (frame === undefined) return;
      this.#frame(frame);
    }
  }

  #started(epoch: number, seq: number): void {
    const { cursors, totals } = this.#ctx;
    const cursor = cursors.get(this.peer.peerId);
    if (cursor) {
      const missed = cursor.epoch === epoch
        ? seq - cursor.next
        : seq + Math.max(0, (cursor.ended ?? cursor.next) - cursor.next);
      if (missed > 0) this.#gap(missed);
    }
    cursors.set(this.peer.peerId, { epoch, next: seq, ended: undefined });
    if (this.#connectedOnce) {
      this.stats.reconnects++;
      totals.reconnects++;
    }
    this.#connectedOnce = true;
    this.state = "connected";
    this.stats.connectedAt = Date.now();
    this.#ctx.changed(this);
  }

  #gap(missed: number): void {
    this.stats.gaps++;
    this.stats.missed += missed;
    this.#ctx.totals.gaps++;
    this.#ctx.totals.missed += missed;
  }

  #frame(frame: Uint8Array): void {
    const { cursors, def, totals } = this.#ctx;
    const cursor = cursors.get(this.peer.peerId)!;
    const data = decodeDataFrame(frame);
    if (data.kind === "end") {
      cursor.ended = data.nextSeq;
      return;
    }
    const codec = def.codec;
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
    if (first > cursor.next) this.#gap(first - cursor.next);
    for (let i = 1; i < data.seqs.length; i++) {
      const d = data.seqs[i] - data.seqs[i - 1] - 1;
      if (d > 0) this.#gap(d);
    }
    cursor.next = data.seqs[data.seqs.length - 1] + 1;
    this.stats.datums += values.length;
    this.stats.bytes += bytes;
    totals.datums += values.length;
    totals.bytes += bytes;
    this.#ctx.inbox.push(values);
  }
}

/** Answers pings until the producer's `start`; a silent producer times out. */
async function handshake(
  channel: StreamsChannel,
  signal: AbortSignal,
): Promise<Extract<Control, { t: "start" }>> {
  const until = Date.now() + HANDSHAKE_TIMEOUT;
  for (;;) {
    let m: unknown;
    try {
      m = await deadline(channel.recv(), Math.max(0, until - Date.now()), { signal });
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      throw new ChannelClosedError(CloseCode.UnexpectedClose, "handshake timeout");
    }
    if (m === undefined) {
      throw new ChannelClosedError(CloseCode.UnexpectedClose, "closed during handshake");
    }
    const c = controlFromWire(m);
    if (c.t === "start") return c;
    if (c.t !== "ping") throw new DecodeError(`unexpected ${c.t} in handshake`);
    await channel.send(controlToWire({ t: "pong", n: c.n }));
  }
}
