/**
 * One subscriber of a producer (private), the twin of the consumer's
 * `Subscription`: its bounded queue of encoded datums, the pump that writes
 * them to the subscriber's channel in batch frames, and the reader that
 * notices when the subscriber goes away.
 *
 * @module
 */
import type { StreamsChannel } from "./link.ts";
import { CloseCode, type NetworkId, type StreamId } from "@mosaik/transport";
import { type ChannelState, type ChannelStats, emptyStats } from "./conditions.ts";
import { entryVersion, type PeerInfo } from "./peer.ts";
import { controlToWire, encodeEnd, ITEM_HEADER, loneBatch, MAX_DELTA } from "./_wire.ts";

/** What a subscriber's pump needs from the stream's fan-out worker. */
export interface OutboundOwner {
  readonly networkId: NetworkId;
  readonly streamId: StreamId;
  /** Capacity of the queue in datums. */
  readonly bufferSize: number;
  /** Largest batch frame in bytes. */
  readonly maxBatchBytes: number;
  /** The producer run's epoch. */
  readonly epoch: number;
  /** The sequence number the next datum will get. */
  readonly nextSeq: number;
  /** The subscriber is connected (its `start` went out). */
  connected(sub: Outbound): void;
  /** A full queue got room again. */
  drained(): void;
  /** The subscriber's queue was emptied. */
  emptied(): void;
  /**
   * The batch frame of queue items `from..to`: encoded once per range of
   * sequence numbers, so subscribers in step share one frame.
   */
  batch(
    seqs: readonly number[],
    datas: readonly Uint8Array[],
    from: number,
    to: number,
  ): Uint8Array;
  /** Ends the subscription with a close code. */
  finish(sub: Outbound, code: number, reason: string): void;
}

/** One subscriber, seen by the producer. */
export class Outbound {
  state: ChannelState = "connecting";
  readonly stats: ChannelStats = emptyStats();
  seqs: number[] = [];
  datas: Uint8Array[] = [];
  /**
   * The batch each datum belongs to, numbered by the producer for all
   * subscribers alike: a frame never spans two, so subscribers in step cut
   * the same frames and share them.
   */
  batches: number[] = [];
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
  #resolveDone!: () => void;
  #wake: (() => void) | undefined;

  constructor(readonly channel: StreamsChannel, public peer: PeerInfo) {
    this.version = entryVersion(peer.entry);
    this.done = new Promise((r) => this.#resolveDone = r);
  }

  get length(): number {
    return this.seqs.length - this.head;
  }

  push(seq: number, data: Uint8Array, batch: number): void {
    this.seqs.push(seq);
    this.datas.push(data);
    this.batches.push(batch);
    this.wake();
  }

  wake(): void {
    const w = this.#wake;
    if (w) {
      this.#wake = undefined;
      w();
    }
  }

  /** Marks the subscription over and drops its queue; `false` if it already was. */
  end(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.state = "terminated";
    this.stats.connectedAt = undefined;
    this.stopExpiry?.();
    this.seqs = [];
    this.datas = [];
    this.batches = [];
    this.head = 0;
    this.wake();
    this.#resolveDone();
    return true;
  }

  /** Writes the start message, then batches of queued datums, until the subscription ends. */
  async pump(owner: OutboundOwner): Promise<void> {
    const channel = this.channel;
    const max = owner.maxBatchBytes;
    try {
      await channel.send(controlToWire({
        t: "start",
        network: owner.networkId,
        stream: owner.streamId,
        epoch: owner.epoch,
        seq: owner.nextSeq,
      }));
      if (this.closed) return;
      this.state = "connected";
      this.stats.connectedAt = Date.now();
      owner.connected(this);
      for (;;) {
        while (this.length === 0) {
          if (this.closed) return;
          if (this.ending) {
            await channel.sendBytes(encodeEnd(owner.nextSeq));
            owner.finish(this, CloseCode.GracefulShutdown, "producer closed");
            return;
          }
          await new Promise<void>((r) => this.#wake = r);
        }
        if (this.closed) return;
        const from = this.head;
        let to = from + 1;
        let size = this.datas[from].length + ITEM_HEADER;
        const batch = this.batches[from];
        while (
          to < this.seqs.length && this.batches[to] === batch &&
          this.seqs[to] - this.seqs[to - 1] <= MAX_DELTA
        ) {
          size += this.datas[to].length + ITEM_HEADER;
          to++;
        }
        const frame = to - from === 1
          ? loneBatch(this.seqs[from], this.datas[from])
          : owner.batch(this.seqs, this.datas, from, to);
        // handed over before `emptied` may release a cached frame
        const sent = channel.sendBytes(frame);
        if (to === this.seqs.length) {
          this.seqs = [];
          this.datas = [];
          this.batches = [];
          this.head = 0;
          owner.emptied();
        } else {
          this.head = to;
          if (this.head > 4096) {
            this.seqs = this.seqs.slice(this.head);
            this.datas = this.datas.slice(this.head);
            this.batches = this.batches.slice(this.head);
            this.head = 0;
          }
        }
        if (to - from + this.length >= owner.bufferSize) owner.drained();
        // behind until it drains below half (hysteresis): a consumer that frees one
        // slot at a time is still behind
        this.lastProgress = Date.now();
        if (this.length < owner.bufferSize / 2) this.fullSince = undefined;
        await sent;
        // A small frame: wait for QUIC to take it, so datums queue up meanwhile
        // and go out as one batch. A full one: keep the pipe full (sendBytes
        // itself waits once the channel buffers more than its high-water mark).
        if (size < max / 2) await channel.flush();
        this.stats.datums += to - from;
        this.stats.bytes += size - (to - from) * ITEM_HEADER;
      }
    } catch {
      owner.finish(this, CloseCode.UnexpectedClose, "send failed");
    }
  }

  /** Waits for the consumer to go away (it sends nothing after its handshake). */
  async read(owner: OutboundOwner): Promise<void> {
    try {
      while (!this.closed) {
        const m = await this.channel.recv();
        if (m === undefined) break;
      }
    } catch {
      // closed by the consumer (Cancelled) or broken: either way it is over
    }
    owner.finish(this, CloseCode.Cancelled, "consumer left");
  }
}
