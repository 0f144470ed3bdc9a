/**
 * The anti-entropy schedule: a catalog sync soon after every change of our
 * neighbours or entry, backing off (doubling) to `syncInterval` while nothing
 * changes, so a lost broadcast is repaired quickly without periodic chatter
 * in steady state. One sync at a time: a tick while the last one is still
 * under way (a loaded or slow peer) is skipped rather than piling syncs up.
 *
 * A sync goes to a random neighbour, except every
 * {@linkcode OUTSIDE_SYNC_EVERY}th one in steady state and every other one
 * while syncs are frequent, which go to a random catalog peer outside the
 * active view: views full of each other's members (after a partition heals,
 * or among nodes that joined in the same wave) form an island that nothing
 * in HyParView rewires soon, and that, syncing only with neighbours, would
 * not hear of the rest (docs/scale.md).
 *
 * @module
 */
import type { PeerEntry } from "./entry.ts";
import type { PeerInfo } from "./_hyparview.ts";
import { pick, type Scheduler } from "./_scheduler.ts";

/**
 * Milliseconds from a change to the first sync. A tenth of a second repairs
 * a missed broadcast about as soon as the links that could carry it exist;
 * 250 ms made 50 nodes of one process converge in 1.15 s at the median of 18
 * runs against 1.09 s (docs/scale.md), for about one more sync per change
 * until the schedule is back at `syncInterval`.
 */
const FIRST_DELAY = 100;
/** Every this many syncs in steady state, one goes outside the active view. */
export const OUTSIDE_SYNC_EVERY = 4;
/** Every this many syncs while they are frequent (after a change), one goes outside. */
export const OUTSIDE_SYNC_EVERY_SOON = 2;

/** Whom anti-entropy syncs with, and how. */
export interface AntiEntropyTargets {
  /** A random neighbour, if any. */
  neighbor(): PeerInfo | undefined;
  /** A random peer outside the active view, if any (see {@linkcode outsider}). */
  outsider(): PeerInfo | undefined;
  /** Syncs with `peer`; returns the sync. */
  sync(peer: PeerInfo): Promise<void>;
}

/** A random peer of `peers` that is neither in `active` nor banned. */
export function outsider(
  peers: readonly PeerEntry[],
  active: ReadonlyMap<string, unknown>,
  offences: { banned(peer: PeerEntry["peerId"]): boolean },
): PeerInfo | undefined {
  const e = pick(peers.filter((e) => !active.has(e.peerId) && !offences.banned(e.peerId)));
  return e && { id: e.peerId, addresses: e.addresses };
}

/** The timer of periodic catalog syncs. */
export class AntiEntropy {
  #clock: Scheduler;
  #longest: number;
  #targets: AntiEntropyTargets;
  #running = false;
  #delay = FIRST_DELAY;
  #syncs = 0;
  #cancel: (() => void) | undefined;
  #closed = false;

  /** Syncs with `targets` on the schedule, at most every `longest` ms. */
  constructor(clock: Scheduler, longest: number, targets: AntiEntropyTargets) {
    this.#clock = clock;
    this.#longest = longest;
    this.#targets = targets;
    this.#schedule();
  }

  #schedule(): void {
    this.#cancel?.();
    const steady = this.#delay >= this.#longest;
    const delay = this.#delay * (0.75 + 0.5 * Math.random());
    this.#delay = Math.min(this.#delay * 2, this.#longest);
    this.#cancel = this.#clock.after(delay, () => {
      if (!this.#running) {
        const t = this.#targets;
        const every = steady ? OUTSIDE_SYNC_EVERY : OUTSIDE_SYNC_EVERY_SOON;
        const outside = ++this.#syncs % every === 0;
        const peer = (outside && t.outsider()) || t.neighbor();
        if (peer) {
          this.#running = true;
          const done = () => this.#running = false;
          t.sync(peer).then(done, done);
        }
      }
      this.#schedule();
    });
  }

  /** Something changed: sync again soon. */
  hurry(): void {
    if (this.#closed || this.#delay <= FIRST_DELAY * 2) return;
    this.#delay = FIRST_DELAY;
    this.#schedule();
  }

  /** Stops the timer. */
  close(): void {
    this.#closed = true;
    this.#cancel?.();
  }
}
