/**
 * HyParView's sizes and timers, and their defaults.
 *
 * @module
 */

/** HyParView sizes and timers (defaults as in the paper and iroh-gossip). */
export interface HyParViewConfig {
  /** Active view capacity. Default 5. */
  activeSize: number;
  /** Passive view capacity. Default 30. */
  passiveSize: number;
  /** Active random walk length of a forward-join. Default 6. */
  arwl: number;
  /** Walk TTL at which a forward-join also lands in the passive view. Default 3. */
  prwl: number;
  /** Active peers sent in a shuffle. Default 3. */
  shuffleActive: number;
  /** Passive peers sent in a shuffle. Default 4. */
  shufflePassive: number;
  /** Shuffle walk length. Default 6. */
  shuffleTtl: number;
  /** Milliseconds between shuffles (±50 % jitter). Default 60 000. */
  shuffleInterval: number;
  /**
   * Milliseconds to wait for a neighbour request's answer, counted from when
   * the request left (a dial under load can take longer). Default 500.
   */
  neighborTimeout: number;
  /**
   * How many of the contact's neighbours a join is forwarded to. The paper
   * forwards to all (`activeSize - 1`); fewer means less churn when many
   * nodes join one contact at once. Default 4.
   */
  joinFanout: number;
  /** Active slots kept for the nearest peers (by RTT); the rest are random. Default 2. */
  nearSlots: number;
}

/** Defaults of {@linkcode HyParViewConfig}. */
export const HYPARVIEW_DEFAULTS: HyParViewConfig = {
  activeSize: 5,
  passiveSize: 30,
  arwl: 6,
  prwl: 3,
  shuffleActive: 3,
  shufflePassive: 4,
  shuffleTtl: 6,
  shuffleInterval: 60_000,
  neighborTimeout: 500,
  joinFanout: 4,
  nearSlots: 2,
};
