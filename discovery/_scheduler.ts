/**
 * Timers behind an interface, so the gossip state machines run on real
 * timers in a node and on virtual time in unit tests.
 *
 * @module
 */
import { Timers } from "@mosaik/transport";

/** Schedules callbacks. */
export interface Scheduler {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/**
 * Calls `fn` every `period` ms, each wait drawn within ±`jitter` (a fraction)
 * of it, until `clock`'s timers are cancelled.
 */
export function every(clock: Scheduler, period: number, jitter: number, fn: () => void): void {
  clock.after(period * (1 - jitter + 2 * jitter * Math.random()), () => {
    fn();
    every(clock, period, jitter, fn);
  });
}

/** A {@linkcode Scheduler} on `setTimeout` that cancels everything on `close()`. */
export class TimerScheduler implements Scheduler {
  #timers = new Timers();

  now(): number {
    return performance.now();
  }

  after(ms: number, fn: () => void): () => void {
    return this.#timers.after(ms, fn);
  }

  /** Cancels every pending timer; later `after` calls do nothing. */
  close(): void {
    this.#timers.close();
  }
}

/**
 * Virtual time for unit tests and simulations: timers run, in order, when
 * {@linkcode VirtualScheduler.run} passes them (a binary heap, so millions
 * of events stay cheap).
 */
export class VirtualScheduler implements Scheduler {
  #t = 0;
  #seq = 0;
  #heap: { at: number; seq: number; fn: () => void; dead: boolean }[] = [];
  now(): number {
    return this.#t;
  }
  after(ms: number, fn: () => void): () => void {
    const item = { at: this.#t + ms, seq: this.#seq++, fn, dead: false };
    const h = this.#heap;
    h.push(item);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (this.#less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
    return () => item.dead = true;
  }
  #less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  #pop() {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
  /** Runs every timer due by `until` (virtual ms), then sets the time to `until`. */
  run(until: number): void {
    while (this.#heap.length && this.#heap[0].at <= until) {
      const next = this.#pop();
      this.#t = next.at;
      if (!next.dead) next.fn();
    }
    this.#t = until;
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
