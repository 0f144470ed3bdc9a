/**
 * The one eviction rule of the packages' bounded tables: when a `Map` or
 * `Set` holds more than its bound, its oldest keys (first inserted, or first
 * re-inserted after a delete) go. Tables that keep the most recently used
 * entries delete a key and set it again to make it the newest.
 *
 * @module
 */

/**
 * Deletes the oldest keys of `table` until it holds at most `max`.
 *
 * @example
 * ```ts
 * import { dropOldest } from "@mosaik/transport";
 * const seen = new Set(["a", "b", "c"]);
 * dropOldest(seen, 2);
 * console.assert([...seen].join() === "b,c");
 * ```
 */
export function dropOldest(table: Map<unknown, unknown> | Set<unknown>, max: number): void {
  if (table.size <= max) return; // the common case: no iterator
  for (const key of table.keys()) {
    table.delete(key);
    if (table.size <= max) return;
  }
}

/**
 * Sets `key` to `value` in `map`, first dropping the oldest entries so that
 * at most `max` remain with it.
 *
 * @example
 * ```ts
 * import { remember } from "@mosaik/transport";
 * const cache = new Map([["a", 1], ["b", 2]]);
 * remember(cache, "c", 3, 2);
 * console.assert([...cache.keys()].join() === "b,c");
 * ```
 */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  dropOldest(map, max - 1);
  map.set(key, value);
}
