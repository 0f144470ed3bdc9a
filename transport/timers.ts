/**
 * Timers for deadlines further away than `setTimeout` can wait.
 *
 * @module
 */

/** `setTimeout` fires at once for delays above 2^31 − 1 ms (24.8 days). */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Runs `fn` at the absolute time `at` (ms since the epoch by `clock`), even
 * months away, by chaining timers. Always asynchronous, even for a time
 * already past. Returns a function that cancels it.
 *
 * @example
 * ```ts
 * import { scheduleAt } from "@mosaik/transport";
 * const cancel = scheduleAt(Date.now() + 90 * 86_400_000, () => console.log("90 days later"));
 * cancel();
 * ```
 */
export function scheduleAt(at: number, fn: () => void, clock: () => number = Date.now): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const wait = at - clock();
    timer = setTimeout(() => {
      if (at - clock() > 0) return arm();
      timer = undefined;
      fn();
    }, Math.max(0, Math.min(wait, MAX_DELAY)));
  };
  arm();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}

/**
 * Timers that stop together: each runs once unless cancelled, and
 * {@linkcode Timers.close} cancels every one still pending, so a component
 * that stops leaves no callback behind.
 *
 * @example
 * ```ts
 * import { Timers } from "@mosaik/transport";
 * const timers = new Timers();
 * const cancel = timers.after(1_000, () => console.log("not printed"));
 * cancel();
 * timers.after(60_000, () => console.log("not printed either"));
 * timers.close();
 * ```
 */
export class Timers {
  #pending = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  /**
   * Calls `fn` after `ms` milliseconds unless cancelled (by the function
   * returned) or closed; once closed, does nothing.
   */
  after(ms: number, fn: () => void): () => void {
    if (this.#closed) return () => {};
    const t = setTimeout(() => {
      this.#pending.delete(t);
      fn();
    }, ms);
    this.#pending.add(t);
    return () => {
      clearTimeout(t);
      this.#pending.delete(t);
    };
  }

  /** Cancels every pending timer; later `after` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }
}
