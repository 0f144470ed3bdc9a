/**
 * Waiting on the catalog of a discovery: {@linkcode DiscoveryWhen} and the
 * waiters behind it, re-checked once per task however many catalog events
 * the task brought (a sync merging thousands of entries re-checks once).
 *
 * @module
 */
import { type Tag, Waiter, type WaitOptions } from "@mosaik/transport";
import type { Catalog } from "./catalog.ts";

/** What {@linkcode DiscoveryWhen.peers} waits for. */
export interface PeersCondition extends WaitOptions {
  /** How many peers (other than us). Default 1. */
  minimum?: number;
  /** Only peers advertising every one of these tags count. */
  tags?: readonly Tag[];
}

/** Waits on the catalog of a `Discovery`. */
export interface DiscoveryWhen {
  /**
   * Resolves once the catalog holds `minimum` peers (default 1) with all of
   * `tags`; rejects with `ClosedError` when discovery closes and with the
   * signal's reason when aborted.
   */
  peers(condition?: PeersCondition): Promise<void>;
}

/** The waiters on one catalog. */
export class CatalogWaiters implements DiscoveryWhen {
  #catalog: Catalog;
  #waiter = new Waiter();
  #notifying = false;

  /** Waiters on `catalog`. */
  constructor(catalog: Catalog) {
    this.#catalog = catalog;
  }

  peers({ minimum = 1, tags = [], signal }: PeersCondition = {}): Promise<void> {
    return this.#waiter.wait(() => this.#count(tags) >= minimum, { signal });
  }

  /** The catalog changed: re-checks the waiters at the end of this task. */
  changed(): void {
    if (this.#notifying || this.#waiter.size === 0) return;
    this.#notifying = true;
    setTimeout(() => {
      this.#notifying = false;
      this.#waiter.notify();
    }, 0);
  }

  /** Rejects every waiter with `reason`, and later waits at once. */
  close(reason: Error): void {
    this.#waiter.close(reason);
  }

  /** How many live peers advertise every tag of `tags`. */
  #count(tags: readonly Tag[]): number {
    if (tags.length === 0) return this.#catalog.size;
    return this.#catalog.peers().filter((e) => tags.every((t) => e.tags.includes(t))).length;
  }
}
