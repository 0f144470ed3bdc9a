/**
 * {@linkcode SharedPriorityQueue}: a replicated double-ended priority queue.
 *
 * @module
 */
import type { Opt } from "./_machine.ts";
import { type PqEntry, PqMachine, PqOp, type Priority } from "./_pq_machine.ts";
import { lookupId } from "./_util.ts";
import { machineOf, openStore, write } from "./_open.ts";
import { Collection, type OpenedStore } from "./collection.ts";
import type { CollectionNetwork, CollectionOptions, Exchanged, Version } from "./options.ts";

export type { PqEntry, Priority };

/**
 * A range of priorities for {@linkcode PriorityQueueWriter.removeRange}:
 * `start` is inclusive unless `startExclusive`, `end` exclusive unless
 * `endInclusive`; a missing bound is unbounded (`{}` is everything).
 */
export interface PriorityRange<P extends Priority> {
  /** Lower bound. */
  start?: P;
  /** Excludes `start` itself. */
  startExclusive?: boolean;
  /** Upper bound. */
  end?: P;
  /** Includes `end` itself. */
  endInclusive?: boolean;
}

/** Result of a pop. */
export interface Popped<P, K, V> {
  /** Version of the command. */
  version: Version;
  /** The entry removed, or undefined when the queue was empty. */
  entry: PqEntry<P, K, V> | undefined;
}

/** Options of a priority queue. */
export interface PriorityQueueOptions extends CollectionOptions {
  /**
   * Maximum number of entries: above it the minimum is evicted (possibly the
   * entry just inserted). Part of the StoreId's group. Default unbounded.
   */
  capacity?: number;
}

/**
 * Read side of a replicated priority queue: entries `(priority, key, value)`
 * unique by key, ordered by priority (numbers before strings); entries of
 * equal priority keep insertion order.
 */
export class PriorityQueueReader<P extends Priority, K, V> extends Collection {
  /** Made by {@linkcode SharedPriorityQueue.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  get #m(): PqMachine<P, K, V> {
    return machineOf<PqMachine<P, K, V>>(this);
  }

  /** Number of entries. */
  get size(): number {
    return this.#m.size;
  }

  /** Whether the queue is empty. */
  get isEmpty(): boolean {
    return this.#m.size === 0;
  }

  /** The capacity (Infinity when unbounded). */
  get capacity(): number {
    return this.#m.capacity;
  }

  /** Whether `key` is present. */
  has(key: K): boolean {
    return this.#m.byKey.has(lookupId(key));
  }

  /** The value of `key`. */
  get(key: K): V | undefined {
    return this.#m.byKey.get(lookupId(key))?.value;
  }

  /** The priority of `key`. */
  getPriority(key: K): P | undefined {
    return this.#m.byKey.get(lookupId(key))?.priority;
  }

  /** The first entry in ascending order (what `popMin` would take). */
  min(): PqEntry<P, K, V> | undefined {
    return copy(this.#m.ascending().next().value);
  }

  /** The first entry in descending order (what `popMax` would take). */
  max(): PqEntry<P, K, V> | undefined {
    return copy(this.#m.descending().next().value);
  }

  /** The lowest priority. */
  minPriority(): P | undefined {
    return this.#m.priorities[0];
  }

  /** The highest priority. */
  maxPriority(): P | undefined {
    const p = this.#m.priorities;
    return p[p.length - 1];
  }

  /** Entries in ascending priority, as of now. */
  ascending(): IterableIterator<PqEntry<P, K, V>> {
    return Array.from(this.#m.ascending(), (e) => copy(e)!).values();
  }

  /** Entries in descending priority (the exact reverse of `ascending`), as of now. */
  descending(): IterableIterator<PqEntry<P, K, V>> {
    return Array.from(this.#m.descending(), (e) => copy(e)!).values();
  }

  /** Same as {@linkcode PriorityQueueReader.ascending}. */
  [Symbol.iterator](): IterableIterator<PqEntry<P, K, V>> {
    return this.ascending();
  }
}

function copy<P, K, V>(e: PqEntry<P, K, V> | undefined): PqEntry<P, K, V> | undefined {
  return e && { priority: e.priority, key: e.key, value: e.value };
}

/** Read and write side of a replicated priority queue. */
export class PriorityQueueWriter<P extends Priority, K, V> extends PriorityQueueReader<P, K, V> {
  /** Made by {@linkcode SharedPriorityQueue.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  async #run(cmd: unknown[], input: unknown): Promise<Version> {
    return (await write(this, cmd, input)).version;
  }

  async #pop(op: number): Promise<Popped<P, K, V>> {
    const { version, result } = await write(this, [op], undefined);
    const r = result as Opt<[P, K, V]> | undefined;
    return {
      version,
      entry: r?.length ? { priority: r[0][0], key: r[0][1], value: r[0][2] } : undefined,
    };
  }

  /** Inserts or replaces the entry of `key` (a new priority moves it to the end of its bucket). */
  insert(priority: P, key: K, value: V): Promise<Version> {
    return this.#run([PqOp.Insert, priority, key, value], [priority, key, value]);
  }

  /** Inserts every `[priority, key, value]`, in order (one command). An empty input sends nothing. */
  extend(entries: Iterable<readonly [P, K, V]>): Promise<Version> {
    const list = Array.from(entries, ([p, k, v]) => [p, k, v] as [P, K, V]);
    if (!list.length) return Promise.resolve(this.version);
    return this.#run([PqOp.Extend, list], list);
  }

  /** Changes the priority of `key` (no-op when absent). */
  updatePriority(key: K, priority: P): Promise<Version> {
    return this.#run([PqOp.UpdatePriority, key, priority], key);
  }

  /** Changes the value of `key`, keeping its priority (no-op when absent). */
  updateValue(key: K, value: V): Promise<Version> {
    return this.#run([PqOp.UpdateValue, key, value], key);
  }

  /**
   * Atomically: if `key` is present with a value equal to `expected` (same
   * MessagePack bytes), replaces the value keeping the priority, or removes
   * the entry when `next` is undefined.
   */
  async compareExchangeValue(key: K, expected: V, next: V | undefined): Promise<Exchanged> {
    const cmd = [PqOp.CompareExchangeValue, key, expected, next === undefined ? [] : [next]];
    const { version, result } = await write(this, cmd, key);
    return { version, swapped: result === true };
  }

  /** Removes the entry of `key`. */
  remove(key: K): Promise<Version> {
    return this.#run([PqOp.RemoveKeys, [key]], key);
  }

  /** Removes the entries of every key (one command). An empty input sends nothing. */
  removeKeys(keys: Iterable<K>): Promise<Version> {
    const list = [...keys];
    if (!list.length) return Promise.resolve(this.version);
    return this.#run([PqOp.RemoveKeys, list], list);
  }

  /** Removes every entry whose priority is in `range`. */
  removeRange(range: PriorityRange<P>): Promise<Version> {
    const cmd = [
      PqOp.RemoveRange,
      range.start ?? null,
      range.startExclusive === true,
      range.end ?? null,
      range.endInclusive === true,
    ];
    return this.#run(cmd, range);
  }

  /** Atomically removes and returns the minimum. */
  popMin(): Promise<Popped<P, K, V>> {
    return this.#pop(PqOp.PopMin);
  }

  /** Atomically removes and returns the maximum. */
  popMax(): Promise<Popped<P, K, V>> {
    return this.#pop(PqOp.PopMax);
  }

  /** Removes every entry. */
  clear(): Promise<Version> {
    return this.#run([PqOp.Clear], undefined);
  }
}

/**
 * A replicated double-ended priority queue, optionally bounded (see
 * `SharedMap` for roles and consistency).
 *
 * @example
 * ```ts ignore
 * const book = SharedPriorityQueue.writer<number, string, number>(network, "bids", { capacity: 100 });
 * await book.when.online();
 * await book.insert(101.5, "order-1", 10);
 * const { entry } = await book.popMax(); // { priority: 101.5, key: "order-1", value: 10 }
 * ```
 */
export class SharedPriorityQueue {
  private constructor() {}

  /** Opens the queue `name` as a writer (a voting member). */
  static writer<P extends Priority, K, V>(
    net: CollectionNetwork,
    name: string,
    options?: PriorityQueueOptions,
  ): PriorityQueueWriter<P, K, V> {
    return new PriorityQueueWriter(open(net, name, "writer", options));
  }

  /** Opens the queue `name` as a reader (a non-voting learner). */
  static reader<P extends Priority, K, V>(
    net: CollectionNetwork,
    name: string,
    options?: PriorityQueueOptions,
  ): PriorityQueueReader<P, K, V> {
    return new PriorityQueueReader(open(net, name, "reader", options));
  }
}

function open(
  net: CollectionNetwork,
  name: string,
  role: "writer" | "reader",
  options: PriorityQueueOptions = {},
): OpenedStore {
  const capacity = options.capacity ?? Infinity;
  if (!(capacity >= 0)) throw new RangeError("capacity must be >= 0");
  const params = capacity === Infinity ? "" : `/cap=${capacity}`;
  return openStore(net, "depq", name, (n) => new PqMachine(n, capacity), params, role, options);
}
