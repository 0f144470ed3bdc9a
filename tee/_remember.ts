// The one eviction rule of tee's bounded caches: when full, the oldest entry
// (first inserted) goes. A module of its own so that _crypto.ts, which
// _trust.ts imports, can use it too.

/** Sets `key` in `map`, first dropping the oldest entry when `map` holds `max`. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
