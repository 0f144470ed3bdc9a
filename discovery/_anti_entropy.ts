/**
 * The anti-entropy schedule: a catalog sync soon after every change of our
 * neighbours or entry, backing off (doubling) to `syncInterval` while nothing
 * changes, so a lost broadcast is repaired quickly without periodic chatter
 * in steady state. One sync at a time: a tick while the last one is still
 * under way (a loaded or slow peer) is skipped rather than piling syncs up.
 *
 * @module
 */
import type { Scheduler } from "./_scheduler.ts";

const FIRST_DELAY = 250;

/** The timer of periodic catalog syncs. */
export class AntiEntropy {
  #clock: Scheduler;
  #longest: number;
  #run: (steady: boolean) => Promise<void> | undefined;
  #running = false;
  #delay = FIRST_DELAY;
  #cancel: (() => void) | undefined;
  #closed = false;

  /**
   * Runs `run` (a sync; it returns it, if any) on the schedule, at most every
   * `longest` ms; `steady` says the schedule has backed off to `longest`.
   */
  constructor(
    clock: Scheduler,
    longest: number,
    run: (steady: boolean) => Promise<void> | undefined,
  ) {
    this.#clock = clock;
    this.#longest = longest;
    this.#run = run;
    this.#schedule();
  }

  #schedule(): void {
    this.#cancel?.();
    const steady = this.#delay >= this.#longest;
    const delay = this.#delay * (0.75 + 0.5 * Math.random());
    this.#delay = Math.min(this.#delay * 2, this.#longest);
    this.#cancel = this.#clock.after(delay, () => {
      if (!this.#running) {
        const sync = this.#run(steady);
        if (sync) {
          this.#running = true;
          const done = () => this.#running = false;
          sync.then(done, done);
        }
      }
      this.#schedule();
    });
  }

  /** Something changed: sync again soon. */
  hurry(): void {
    if (this.#closed || this.#delay <= FIRST_DELAY * 2) return;
    this.#delay = FIRST_DELAY;
    this.#schedule();
  }

  /** Stops the timer. */
  close(): void {
    this.#closed = true;
    this.#cancel?.();
  }
}
