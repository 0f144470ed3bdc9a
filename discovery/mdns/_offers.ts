/**
 * Which announced peers the mDNS source hands to discovery. Anyone on the
 * LAN can send announcements, and every peer offered is dialed: the table of
 * offered peers is bounded and offers (a new PeerId, or new addresses of a
 * known one) are rate-limited, so spoofed announcements naming thousands of
 * PeerIds at one port cannot make the node send thousands of QUIC Initials.
 *
 * @module
 */
import { dropOldest } from "@mosaik/transport";
import type { PeerId } from "@mosaik/transport";

/** Limits of {@linkcode Offers}. */
export interface OfferLimits {
  /** Most peers remembered as offered. Default 256. */
  maxPeers: number;
  /** Offers per second (a burst of `burst`, then this rate). Default 2. */
  rate: number;
  /** Offers allowed at once. Default 16. */
  burst: number;
}

/** Defaults of {@linkcode OfferLimits}. */
export const OFFER_LIMITS: OfferLimits = { maxPeers: 256, rate: 2, burst: 16 };

/** What {@linkcode Offers.offer} decided. */
export type OfferVerdict = "offer" | "known" | "limited";

/** The offered peers of one mDNS source. */
export class Offers {
  #limits: OfferLimits;
  #now: () => number;
  #offered = new Map<PeerId, string>(); // peer -> its addresses, joined
  #tokens: number;
  #at: number;

  /** Offers within `limits`; `now` is a clock in ms (tests may replace it). */
  constructor(limits: Partial<OfferLimits> = {}, now: () => number = () => performance.now()) {
    this.#limits = { ...OFFER_LIMITS, ...limits };
    this.#now = now;
    this.#tokens = this.#limits.burst;
    this.#at = now();
  }

  /** How many peers are remembered. */
  get size(): number {
    return this.#offered.size;
  }

  /**
   * Whether to offer `peer` at `addresses` now: `known` when it was offered
   * with these addresses, `limited` when offers are over their rate (it is
   * offered when heard again later).
   */
  offer(peer: PeerId, addresses: readonly string[]): OfferVerdict {
    const key = addresses.join(" ");
    if (this.#offered.get(peer) === key) return "known";
    const now = this.#now();
    const { rate, burst, maxPeers } = this.#limits;
    this.#tokens = Math.min(burst, this.#tokens + (now - this.#at) * rate / 1000);
    this.#at = now;
    if (this.#tokens < 1) return "limited";
    this.#tokens--;
    this.#offered.delete(peer);
    this.#offered.set(peer, key);
    dropOldest(this.#offered, maxPeers);
    return "offer";
  }

  /** Forgets `peer` (it said goodbye). */
  forget(peer: PeerId): void {
    this.#offered.delete(peer);
  }
}
