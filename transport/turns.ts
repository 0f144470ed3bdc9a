/**
 * Turns at a shared resource.
 *
 * @module
 */

/**
 * Turns at a shared resource: at most `size` holders at once, up to `queue`
 * more waiting in order of arrival, any beyond that turned away.
 *
 * @example
 * ```ts
 * import { Turns } from "@mosaik/transport";
 * const turns = new Turns(2, 8);
 * const release = turns.now() ?? await turns.take();
 * if (release) {
 *   try {
 *     // ... use the resource ...
 *   } finally {
 *     release();
 *   }
 * }
 * ```
 */
export class Turns {
  readonly #size: number;
  #free: number;
  readonly #queue: number;
  readonly #waiting: (() => void)[] = [];

  /** `size` turns at once, `queue` waiting at most (no bound by default). */
  constructor(size: number, queue = Infinity) {
    this.#size = this.#free = size;
    this.#queue = queue;
  }

  /** Whether no turn is held. */
  get idle(): boolean {
    return this.#free === this.#size;
  }

  /** The turn's release if one is free now (taken at once); `undefined` otherwise. */
  now(): (() => void) | undefined {
    if (this.#free === 0) return undefined;
    this.#free--;
    return this.#release();
  }

  /**
   * Resolves with the turn's release once it is ours; `undefined` when the
   * queue is full. Releasing twice does nothing.
   */
  take(): Promise<() => void> | undefined {
    const free = this.now();
    if (free) return Promise.resolve(free);
    if (this.#waiting.length >= this.#queue) return undefined;
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#release())));
  }

  #release(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
