/**
 * The acceptor's memory of dialer proofs it accepted, so each is accepted
 * once: entries are grouped by the second of their timestamp, and every
 * second at or before a floor is refused outright. The floor follows the
 * clock (seconds that left the acceptance window) and rises further when the
 * table is full (its oldest second is dropped), so a dropped entry can never
 * be accepted again; under a flood of valid proofs only the window shrinks.
 *
 * @module
 */

/** How far a dialer's clock may be from the acceptor's, either way. */
export const PROOF_WINDOW_MS = 60_000;
/** Proofs remembered at most (each about 200 bytes). */
export const SEEN_PROOFS = 16_384;

export class SeenProofs {
  #seconds = new Map<number, Set<string>>();
  #size = 0;
  #floor = -Infinity;

  constructor(readonly windowMs = PROOF_WINDOW_MS, readonly capacity = SEEN_PROOFS) {}

  /** Proofs remembered now. */
  get size(): number {
    return this.#size;
  }

  /**
   * How far `timestamp` is outside the window around `now` (positive: the
   * dialer is ahead), or 0 when inside.
   */
  skew(timestamp: number, now = Date.now()): number {
    const off = timestamp - now;
    return Math.abs(off) <= this.windowMs ? 0 : off;
  }

  /**
   * Records the proof `key` made at `timestamp` (inside the window) and says
   * whether it is new; false for a replay or a second already forgotten.
   */
  admit(key: string, timestamp: number, now = Date.now()): boolean {
    this.#raiseFloor(Math.floor((now - this.windowMs) / 1000) - 1);
    const second = Math.floor(timestamp / 1000);
    if (second <= this.#floor || this.#seconds.get(second)?.has(key)) return false;
    while (this.#size >= this.capacity) this.#raiseFloor(Math.min(...this.#seconds.keys()));
    if (second <= this.#floor) return false;
    let keys = this.#seconds.get(second);
    if (!keys) this.#seconds.set(second, keys = new Set());
    keys.add(key);
    this.#size++;
    return true;
  }

  #raiseFloor(second: number): void {
    if (second <= this.#floor) return;
    this.#floor = second;
    for (const [s, keys] of this.#seconds) {
      if (s > second) continue;
      this.#size -= keys.size;
      this.#seconds.delete(s);
    }
  }
}
