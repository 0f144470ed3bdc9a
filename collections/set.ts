/**
 * {@linkcode SharedSet}: a replicated set.
 *
 * @module
 */
import { SetMachine, SetOp } from "./_set_machine.ts";
import { type KeyId, lookupId } from "./_util.ts";
import { machineOf, openStore, write } from "./_open.ts";
import { Collection, type OpenedStore } from "./collection.ts";
import type { CollectionNetwork, CollectionOptions, Version } from "./options.ts";

/** Read side of a replicated set. Elements are equal when their MessagePack encodings are. */
export class SetReader<T> extends Collection {
  /** Made by {@linkcode SharedSet.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  get #data(): Map<KeyId, T> {
    return machineOf<SetMachine<T>>(this).data;
  }

  /** Number of elements. */
  get size(): number {
    return this.#data.size;
  }

  /** Whether the set is empty. */
  get isEmpty(): boolean {
    return this.#data.size === 0;
  }

  /** Whether `value` is an element. */
  has(value: T): boolean {
    return this.#data.has(lookupId(value));
  }

  /** Whether every element of this set is in `other`. */
  isSubsetOf(other: SetReader<T>): boolean {
    if (this.size > other.size) return false;
    for (const v of this.#data.values()) if (!other.has(v)) return false;
    return true;
  }

  /** The elements as of now, in insertion order. */
  values(): IterableIterator<T> {
    return [...this.#data.values()].values();
  }

  /** Same as {@linkcode SetReader.values}. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
}

/** Read and write side of a replicated set. */
export class SetWriter<T> extends SetReader<T> {
  /** Made by {@linkcode SharedSet.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  async #run(cmd: unknown[], input: unknown): Promise<Version> {
    return (await write(this, cmd, input)).version;
  }

  /** Adds `value`. */
  insert(value: T): Promise<Version> {
    return this.#run([SetOp.Insert, value], value);
  }

  /** Adds every value (one command). An empty input sends nothing. */
  extend(values: Iterable<T>): Promise<Version> {
    const list = [...values];
    if (!list.length) return Promise.resolve(this.version);
    return this.#run([SetOp.Extend, list], list);
  }

  /** Removes `value`. */
  remove(value: T): Promise<Version> {
    return this.#run([SetOp.RemoveMany, [value]], value);
  }

  /** Removes every value (one command). An empty input sends nothing. */
  removeMany(values: Iterable<T>): Promise<Version> {
    const list = [...values];
    if (!list.length) return Promise.resolve(this.version);
    return this.#run([SetOp.RemoveMany, list], list);
  }

  /** Removes every element. */
  clear(): Promise<Version> {
    return this.#run([SetOp.Clear], undefined);
  }
}

/**
 * A replicated set (see `SharedMap` for roles and consistency).
 *
 * @example
 * ```ts ignore
 * const online = SharedSet.writer<string>(network, "online-users");
 * await online.when.online();
 * await online.insert("alice");
 * ```
 */
export class SharedSet {
  private constructor() {}

  /** Opens the set `name` as a writer (a voting member). */
  static writer<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): SetWriter<T> {
    return new SetWriter(open(net, name, "writer", options));
  }

  /** Opens the set `name` as a reader (a non-voting learner). */
  static reader<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): SetReader<T> {
    return new SetReader(open(net, name, "reader", options));
  }
}

function open(
  net: CollectionNetwork,
  name: string,
  role: "writer" | "reader",
  options?: CollectionOptions,
): OpenedStore {
  return openStore(net, "set", name, (n) => new SetMachine(n), "", role, options);
}
