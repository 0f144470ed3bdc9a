/**
 * Timers behind an interface, so the gossip state machines run on real
 * timers in a node and on virtual time in unit tests.
 *
 * @module
 */

/** Schedules callbacks. */
export interface Scheduler {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** A {@linkcode Scheduler} on `setTimeout` that cancels everything on `close()`. */
export class TimerScheduler implements Scheduler {
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  now(): number {
    return performance.now();
  }

  after(ms: number, fn: () => void): () => void {
    if (this.#closed) return () => {};
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return () => {
      clearTimeout(t);
      this.#timers.delete(t);
    };
  }

  /** Cancels every pending timer; later `after` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/** Picks a random element of `xs` (undefined when empty). */
export function pick<T>(xs: readonly T[], random: () => number = Math.random): T | undefined {
  return xs.length === 0 ? undefined : xs[Math.floor(random() * xs.length)];
}

/** Up to `n` distinct random elements of `xs`. */
export function sample<T>(xs: readonly T[], n: number, random: () => number = Math.random): T[] {
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}
