/**
 * {@linkcode SharedMap}: a replicated key-value map.
 *
 * @module
 */
import { MapMachine, MapOp } from "./_map_machine.ts";
import { type KeyId, lookupId } from "./_util.ts";
import { machineOf, openStore, write } from "./_open.ts";
import { Collection, type OpenedStore } from "./collection.ts";
import type { CollectionNetwork, CollectionOptions, Exchanged, Version } from "./options.ts";

/**
 * Read side of a replicated map. Keys are equal when their MessagePack
 * encodings are; iteration follows insertion order, identical on every node
 * at the same version. Stored keys and values are frozen copies.
 */
export class MapReader<K, V> extends Collection {
  /** Made by {@linkcode SharedMap.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  get #data(): Map<KeyId, readonly [K, V]> {
    return machineOf<MapMachine<K, V>>(this).data;
  }

  /** Number of entries. */
  get size(): number {
    return this.#data.size;
  }

  /** Whether the map is empty. */
  get isEmpty(): boolean {
    return this.#data.size === 0;
  }

  /** Whether `key` is present. */
  has(key: K): boolean {
    return this.#data.has(lookupId(key));
  }

  /** The value of `key`, or undefined. */
  get(key: K): V | undefined {
    return this.#data.get(lookupId(key))?.[1];
  }

  /** The entries as of now (later writes do not affect the iteration). */
  entries(): IterableIterator<readonly [K, V]> {
    return [...this.#data.values()].values();
  }

  /** The keys as of now. */
  keys(): IterableIterator<K> {
    return Array.from(this.#data.values(), (e) => e[0]).values();
  }

  /** The values as of now. */
  values(): IterableIterator<V> {
    return Array.from(this.#data.values(), (e) => e[1]).values();
  }

  /** Same as {@linkcode MapReader.entries}. */
  [Symbol.iterator](): IterableIterator<readonly [K, V]> {
    return this.entries();
  }
}

/**
 * Read and write side of a replicated map. Writes resolve to the
 * {@linkcode Version} of their command once it is committed and applied on
 * this node (so the writer reads its own writes); they fail with a
 * `WriteError` that hands the arguments back.
 */
export class MapWriter<K, V> extends MapReader<K, V> {
  /** Made by {@linkcode SharedMap.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  /** Sets `key` to `value`. */
  async insert(key: K, value: V): Promise<Version> {
    return (await write(this, [MapOp.Insert, key, value], [key, value] as [K, V])).version;
  }

  /** Sets every entry, in order (one command). An empty input sends nothing. */
  async extend(entries: Iterable<readonly [K, V]>): Promise<Version> {
    const list = Array.from(entries, ([k, v]) => [k, v] as [K, V]);
    if (!list.length) return this.version;
    return (await write(this, [MapOp.Extend, list], list)).version;
  }

  /** Removes `key` (a missing key is a no-op that still gets a version). */
  async remove(key: K): Promise<Version> {
    return (await write(this, [MapOp.RemoveMany, [key]], key)).version;
  }

  /** Removes every key (one command). An empty input sends nothing. */
  async removeMany(keys: Iterable<K>): Promise<Version> {
    const list = [...keys];
    if (!list.length) return this.version;
    return (await write(this, [MapOp.RemoveMany, list], list)).version;
  }

  /** Removes every entry. */
  async clear(): Promise<Version> {
    return (await write(this, [MapOp.Clear], undefined)).version;
  }

  /**
   * Atomically: if the current value of `key` equals `expected` (same
   * MessagePack bytes; `undefined` = absent), sets it to `next` (`undefined`
   * removes the key).
   */
  async compareExchange(key: K, expected: V | undefined, next: V | undefined): Promise<Exchanged> {
    const cmd = [
      MapOp.CompareExchange,
      key,
      expected === undefined ? [] : [expected],
      next === undefined ? [] : [next],
    ];
    const { version, result } = await write(this, cmd, [key, expected, next] as const);
    return { version, swapped: result === true };
  }
}

/**
 * A replicated map: any number of writers (voters) and readers (learners)
 * on any nodes. Each store is one Raft group whose state machine is the map.
 *
 * @example
 * ```ts ignore
 * import { SharedMap } from "@mosaik/collections";
 * const balances = SharedMap.writer<string, number>(a, "balances");
 * await balances.when.online();
 * const version = await balances.insert("alice", 100);
 * const replica = SharedMap.reader<string, number>(b, "balances");
 * await replica.when.reaches(version);
 * replica.get("alice"); // 100
 * ```
 */
export class SharedMap {
  private constructor() {}

  /** Opens the map `name` on `net` as a writer (a voting member). */
  static writer<K, V>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): MapWriter<K, V> {
    return new MapWriter(open(net, name, "writer", options));
  }

  /** Opens the map `name` on `net` as a reader (a non-voting learner). */
  static reader<K, V>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): MapReader<K, V> {
    return new MapReader(open(net, name, "reader", options));
  }
}

function open(
  net: CollectionNetwork,
  name: string,
  role: "writer" | "reader",
  options?: CollectionOptions,
): OpenedStore {
  return openStore(net, "map", name, (n) => new MapMachine(n), "", role, options);
}
