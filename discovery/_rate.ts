/**
 * Per-peer inbound budgets (token buckets of bytes, or of signatures to
 * verify), bounded in the number of peers they track.
 *
 * @module
 */
import { remember } from "@mosaik/transport";
import type { PeerId } from "@mosaik/transport";

const MAX_TRACKED = 4096;

interface Bucket {
  tokens: number;
  at: number;
}

/** Units (bytes, signatures) per second per peer, with a burst of one second's worth. */
export class PeerRate {
  #rate: number;
  #buckets = new Map<PeerId, Bucket>();

  /** Allows `rate` units per second from each peer. */
  constructor(rate: number) {
    this.#rate = rate;
  }

  /**
   * Takes `bytes` from `peer`'s budget; false (taking nothing) when it is
   * spent. A message larger than the budget passes when the budget is
   * positive and leaves it in debt, so the average rate still holds.
   */
  take(peer: PeerId, bytes: number): boolean {
    const b = this.#refill(peer);
    if (b.tokens <= 0) return false;
    b.tokens -= bytes;
    return true;
  }

  /** Takes up to `n` whole units from `peer`'s budget; returns how many it took. */
  grant(peer: PeerId, n: number): number {
    const b = this.#refill(peer);
    const granted = Math.max(0, Math.min(n, Math.floor(b.tokens)));
    b.tokens -= granted;
    return granted;
  }

  #refill(peer: PeerId): Bucket {
    const now = performance.now();
    let b = this.#buckets.get(peer);
    if (!b) {
      b = { tokens: this.#rate, at: now };
      remember(this.#buckets, peer, b, MAX_TRACKED);
    }
    b.tokens = Math.min(this.#rate, b.tokens + (now - b.at) * this.#rate / 1000);
    b.at = now;
    return b;
  }
}
