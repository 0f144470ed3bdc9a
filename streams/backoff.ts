/**
 * Reconnect backoff for consumers: exponential with jitter.
 *
 * @module
 */

/** Options of {@linkcode Backoff}. All times in milliseconds. */
export interface BackoffOptions {
  /** First delay. Default 500. */
  initial?: number;
  /** Growth per attempt. Default 1.5. */
  multiplier?: number;
  /** Random spread, as a fraction of the delay (0.5 = ±50 %). Default 0.5. */
  jitter?: number;
  /** Largest delay. Default 60 000. */
  max?: number;
}

/**
 * Exponential backoff state for one producer connection. Unlike the Rust
 * crate it never gives up on its own: a consumer stops retrying when the
 * producer leaves the catalog or becomes ineligible.
 *
 * @example
 * ```ts
 * import { Backoff } from "@mosaik/streams";
 * const b = new Backoff({ initial: 100, jitter: 0 });
 * console.assert(b.next() === 100 && b.next() === 150);
 * b.reset();
 * console.assert(b.next() === 100);
 * ```
 */
export class Backoff {
  readonly #initial: number;
  readonly #multiplier: number;
  readonly #jitter: number;
  readonly #max: number;
  #current: number;

  /** Creates fresh backoff state. */
  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initial ?? 500;
    this.#multiplier = options.multiplier ?? 1.5;
    this.#jitter = options.jitter ?? 0.5;
    this.#max = options.max ?? 60_000;
    this.#current = this.#initial;
  }

  /** The next delay (with jitter), then grows the base delay. */
  next(): number {
    const base = Math.min(this.#current, this.#max);
    this.#current = Math.min(this.#current * this.#multiplier, this.#max);
    const spread = base * this.#jitter;
    return Math.max(0, base - spread + Math.random() * 2 * spread);
  }

  /** Starts over from the initial delay. */
  reset(): void {
    this.#current = this.#initial;
  }
}
