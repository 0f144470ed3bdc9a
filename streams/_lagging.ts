/**
 * Who among a producer's subscribers lags (private): the judge behind the
 * lagging policy. A subscriber that is merely behind holds datums back
 * (`send` waits: backpressure); one that lags gets the policy instead.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import type { Outbound } from "./_outbound.ts";

/** What to do when a subscriber's queue is full. */
export type LaggingPolicy = "disconnect" | "drop" | "block";

/** How long a consumer that lagged gets no grace period again (ms). */
const LAG_MEMORY = 30_000;
/** A subscriber whose pump has not moved for this many `lagTimeout`s stopped reading. */
const STALL_FACTOR = 10;

/** The settings the judge reads. */
export interface LagConfig {
  readonly bufferSize: number;
  readonly lagging: LaggingPolicy;
  readonly lagTimeout: number;
}

/** Judges the subscribers of one producer. */
export class LagJudge {
  readonly #config: LagConfig;
  readonly #subs: ReadonlySet<Outbound>;
  readonly #recheck: () => void;
  /** When each consumer peer last lagged. */
  readonly #laggards = new Map<PeerId, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** `recheck` runs when a full subscriber may have turned lagging (waiting senders look again). */
  constructor(config: LagConfig, subs: ReadonlySet<Outbound>, recheck: () => void) {
    this.#config = config;
    this.#subs = subs;
    this.#recheck = recheck;
  }

  /**
   * Whether a datum can go out now: no subscriber with a full queue, except
   * lagging ones (the lagging policy applies to them).
   */
  canDispatch(): boolean {
    const max = this.#config.bufferSize;
    let now = 0;
    for (const s of this.#subs) {
      if (s.closed || s.ending || s.length < max) continue;
      if (this.#config.lagging === "block") return false;
      now ||= Date.now();
      if (!this.lagging(s, now)) return false;
    }
    return true;
  }

  /**
   * A full subscriber lags when its pump has not moved for ten times
   * `lagTimeout` (the consumer stopped reading; a merely slow link still moves
   * a frame now and then), or when it has stayed behind (not drained
   * below half) for `lagTimeout` while another subscriber keeps up (is below
   * half, see {@linkcode LagJudge.#keepsUp}). When every subscriber is
   * behind, the producer is simply faster than the network: nobody lags,
   * sends wait. A peer that lagged lags again at once for
   * {@linkcode LAG_MEMORY}, so it cannot stall the producer once per
   * reconnect.
   */
  lagging(sub: Outbound, now: number): boolean {
    const lagTimeout = this.#config.lagTimeout;
    const at = this.#laggards.get(sub.peer.peerId);
    if (at !== undefined) {
      if (now - at < LAG_MEMORY) return true;
      this.#laggards.delete(sub.peer.peerId);
    }
    if (now - sub.lastProgress >= lagTimeout * STALL_FACTOR) return true;
    if (sub.fullSince === undefined || now - sub.fullSince < lagTimeout) return false;
    const half = this.#config.bufferSize / 2;
    for (const other of this.#subs) {
      if (other !== sub && other.length < half && this.#keepsUp(other, now)) return true;
    }
    return false;
  }

  /** A datum was dropped for a full subscriber: it counts as lagging for a while. */
  dropped(sub: Outbound): void {
    this.#laggards.set(sub.peer.peerId, Date.now());
  }

  /** A subscriber's queue just filled up. */
  filled(sub: Outbound): void {
    if (sub.fullSince !== undefined) return;
    sub.fullSince = Date.now();
    this.#arm();
  }

  /** Stops the timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /**
   * Whether a subscriber is a fair yardstick of "keeping up": connected for
   * at least `lagTimeout` and not a recent laggard (a laggard that just
   * reconnected has an empty queue but proves nothing).
   */
  #keepsUp(sub: Outbound, now: number): boolean {
    if (sub.closed || sub.ending || sub.state !== "connected") return false;
    if (now - sub.admittedAt < this.#config.lagTimeout) return false;
    const at = this.#laggards.get(sub.peer.peerId);
    return at === undefined || now - at >= LAG_MEMORY;
  }

  /** Re-checks waiting senders once a full subscriber may have turned lagging. */
  #arm(): void {
    if (this.#timer !== undefined || this.#config.lagging === "block" || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#recheck();
      const now = Date.now();
      for (const s of this.#subs) {
        if (!s.closed && s.length >= this.#config.bufferSize && !this.lagging(s, now)) {
          return this.#arm();
        }
      }
    }, this.#config.lagTimeout);
  }
}
