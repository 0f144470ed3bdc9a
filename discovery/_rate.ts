/**
 * Per-peer inbound byte budgets (token buckets), bounded in the number of
 * peers they track.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";

const MAX_TRACKED = 4096;

interface Bucket {
  tokens: number;
  at: number;
}

/** Bytes per second per peer, with a burst of one second's worth. */
export class ByteRate {
  #rate: number;
  #buckets = new Map<PeerId, Bucket>();

  /** Allows `rate` bytes per second from each peer. */
  constructor(rate: number) {
    this.#rate = rate;
  }

  /**
   * Takes `bytes` from `peer`'s budget; false (taking nothing) when it is
   * spent. A message larger than the budget passes when the budget is
   * positive and leaves it in debt, so the average rate still holds.
   */
  take(peer: PeerId, bytes: number): boolean {
    const now = performance.now();
    let b = this.#buckets.get(peer);
    if (!b) {
      if (this.#buckets.size >= MAX_TRACKED) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      b = { tokens: this.#rate, at: now };
      this.#buckets.set(peer, b);
    }
    b.tokens = Math.min(this.#rate, b.tokens + (now - b.at) * this.#rate / 1000);
    b.at = now;
    if (b.tokens <= 0) return false;
    b.tokens -= bytes;
    return true;
  }
}
