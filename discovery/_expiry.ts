/**
 * Purging expired catalog entries on time: one timer, armed for the earliest
 * expiry. Each purge scans the whole catalog, so purges are at least `gap`
 * apart: a flood of entries expiring a millisecond apart costs a few scans,
 * not one per entry. (Queries hide expired entries meanwhile.)
 *
 * @module
 */
import type { Catalog } from "./catalog.ts";
import type { Scheduler } from "./_scheduler.ts";

/** The purge timer of one catalog. */
export class Expiry {
  #catalog: Pick<Catalog, "purge" | "nextExpiry">;
  #clock: Scheduler;
  #gap: number;
  #now: () => number;
  #at = Infinity;
  #cancel: (() => void) | undefined;
  #earliest = 0;

  /** Purges `catalog` on `clock`, at most once per `gap` ms; `now` is unix ms. */
  constructor(
    catalog: Pick<Catalog, "purge" | "nextExpiry">,
    clock: Scheduler,
    gap: number,
    now: () => number = Date.now,
  ) {
    this.#catalog = catalog;
    this.#clock = clock;
    this.#gap = gap;
    this.#now = now;
  }

  /** Makes sure a purge runs by `at` (unix ms), or `gap` after the last one if later. */
  arm(at: number): void {
    at = Math.max(at, this.#earliest);
    if (at >= this.#at) return;
    this.#cancel?.();
    this.#at = at;
    this.#cancel = this.#clock.after(Math.max(0, at - this.#now()) + 1, () => {
      this.#at = Infinity;
      this.#cancel = undefined;
      this.#earliest = this.#now() + this.#gap;
      this.#catalog.purge();
      const next = this.#catalog.nextExpiry();
      if (next !== undefined) this.arm(next);
    });
  }
}
