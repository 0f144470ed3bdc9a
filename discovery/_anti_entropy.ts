/**
 * The anti-entropy schedule: a catalog sync soon after every change of our
 * neighbours or entry, backing off (doubling) to `syncInterval` while nothing
 * changes, so a lost broadcast is repaired quickly without periodic chatter
 * in steady state. One sync at a time: a tick while the last one is still
 * under way (a loaded or slow peer) is skipped rather than piling syncs up.
 *
 * A sync goes to a random neighbour, except every
 * {@linkcode OUTSIDE_SYNC_EVERY}th one in steady state, which goes to a
 * random catalog peer outside the active view: views full of each other's
 * members (after a partition heals, say) form an island that nothing in
 * HyParView rewires, and that, syncing only with neighbours, would never
 * hear of the rest again (docs/scale.md). While syncs are frequent (after a
 * change) every other one goes outside, to a peer we still hold a connection
 * to (the contact we joined through, a neighbour we lost): nodes that joined
 * in the same wave form such islands for a while, and a sync on an open
 * connection costs no handshake and no connection kept open after it.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import type { Catalog } from "./catalog.ts";
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
  /**
   * A random peer outside the active view, if any (see {@linkcode outsider});
   * `connected`: only among peers we hold a connection to.
   */
  outsider(connected: boolean): PeerInfo | undefined;
  /** Syncs with `peer`; returns the sync. */
  sync(peer: PeerInfo): Promise<void>;
}

/**
 * A random catalog peer that is neither in `active` nor banned; with
 * `connected`, only among the peers it holds a connection to.
 */
export function outsider(
  catalog: Pick<Catalog, "peers" | "get">,
  connected: { connectedPeers(): PeerId[] } | false,
  active: ReadonlyMap<string, unknown>,
  offences: { banned(peer: PeerId): boolean },
): PeerInfo | undefined {
  const peers = connected
    ? connected.connectedPeers().flatMap((p) => catalog.get(p) ?? [])
    : catalog.peers();
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
        const peer = (outside && t.outsider(!steady)) || t.neighbor();
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
