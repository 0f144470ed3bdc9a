/**
 * Turns at a shared resource: at most `size` holders at once, up to `queue`
 * more waiting in order of arrival, any beyond that turned away.
 *
 * @module
 */

/** See the module doc. */
export class Turns {
  #free: number;
  readonly #queue: number;
  readonly #waiting: (() => void)[] = [];

  /** `size` turns at once, `queue` waiting at most. */
  constructor(size: number, queue: number) {
    this.#free = size;
    this.#queue = queue;
  }

  /**
   * Resolves with the turn's release once it is ours; `undefined` when the
   * queue is full. Releasing twice does nothing.
   */
  take(): Promise<() => void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#release());
    }
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
