/**
 * {@linkcode SharedVec}: a replicated sequence.
 *
 * @module
 */
import type { Opt } from "./_machine.ts";
import { VecMachine, VecOp } from "./_vec_machine.ts";
import { sameBytes } from "./_util.ts";
import { machineOf, openStore, write } from "./_open.ts";
import { Collection, type OpenedStore } from "./collection.ts";
import type { CollectionNetwork, CollectionOptions, Version } from "./options.ts";

/** Result of a write that removes one element. */
export interface Removed<T> {
  /** Version of the command. */
  version: Version;
  /** The element removed, or undefined when there was none (empty / out of range). */
  value: T | undefined;
}

/** Read side of a replicated sequence. */
export class VecReader<T> extends Collection {
  /** Made by {@linkcode SharedVec.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  get #data(): T[] {
    return machineOf<VecMachine<T>>(this).data;
  }

  /** Number of elements. */
  get size(): number {
    return this.#data.length;
  }

  /** Whether the sequence is empty. */
  get isEmpty(): boolean {
    return this.#data.length === 0;
  }

  /** The element at `index`, or undefined. */
  get(index: number): T | undefined {
    return Number.isInteger(index) && index >= 0 ? this.#data[index] : undefined;
  }

  /** The first element. */
  front(): T | undefined {
    return this.#data[0];
  }

  /** The last element. */
  back(): T | undefined {
    const d = this.#data;
    return d[d.length - 1];
  }

  /** Whether an element equals `value` (same MessagePack bytes). */
  contains(value: T): boolean {
    return this.indexOf(value) !== undefined;
  }

  /** Index of the first element equal to `value`. */
  indexOf(value: T): number | undefined {
    let i: number;
    try {
      i = this.#data.findIndex((x) => sameBytes(x, value));
    } catch {
      return undefined; // not encodable: equal to no element
    }
    return i < 0 ? undefined : i;
  }

  /** The elements as of now. */
  values(): IterableIterator<T> {
    return [...this.#data].values();
  }

  /** Same as {@linkcode VecReader.values}. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
}

/** Read and write side of a replicated sequence. */
export class VecWriter<T> extends VecReader<T> {
  /** Made by {@linkcode SharedVec.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  async #run(cmd: unknown[], input: unknown): Promise<Version> {
    return (await write(this, cmd, input)).version;
  }

  async #take(cmd: unknown[], input: unknown): Promise<Removed<T>> {
    const { version, result } = await write(this, cmd, input);
    const r = result as Opt<T> | undefined;
    return { version, value: r?.length ? r[0] : undefined };
  }

  /** Appends `value`. */
  pushBack(value: T): Promise<Version> {
    return this.#run([VecOp.PushBack, value], value);
  }

  /** Prepends `value`. */
  pushFront(value: T): Promise<Version> {
    return this.#run([VecOp.PushFront, value], value);
  }

  /** Inserts `value` before `index`; an index past the end is a no-op. */
  insert(index: number, value: T): Promise<Version> {
    return this.#run([VecOp.Insert, index, value], value);
  }

  /** Appends every value (one command). An empty input sends nothing. */
  extend(values: Iterable<T>): Promise<Version> {
    const list = [...values];
    if (!list.length) return Promise.resolve(this.version);
    return this.#run([VecOp.Extend, list], list);
  }

  /** Swaps two elements; a no-op unless both indexes are in range. */
  swap(i: number, j: number): Promise<Version> {
    return this.#run([VecOp.Swap, i, j], undefined);
  }

  /** Removes and returns the last element. */
  popBack(): Promise<Removed<T>> {
    return this.#take([VecOp.PopBack], undefined);
  }

  /** Removes and returns the first element. */
  popFront(): Promise<Removed<T>> {
    return this.#take([VecOp.PopFront], undefined);
  }

  /** Removes and returns the element at `index`. */
  remove(index: number): Promise<Removed<T>> {
    return this.#take([VecOp.Remove, index], index);
  }

  /** Keeps the first `length` elements. */
  truncate(length: number): Promise<Version> {
    return this.#run([VecOp.Truncate, length], undefined);
  }

  /** Removes every element. */
  clear(): Promise<Version> {
    return this.#run([VecOp.Clear], undefined);
  }
}

/**
 * A replicated sequence (see `SharedMap` for roles and consistency).
 *
 * @example
 * ```ts ignore
 * const log = SharedVec.writer<string>(network, "events");
 * await log.when.online();
 * await log.pushBack("started");
 * const { value } = await log.popFront(); // "started"
 * ```
 */
export class SharedVec {
  private constructor() {}

  /** Opens the sequence `name` as a writer (a voting member). */
  static writer<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): VecWriter<T> {
    return new VecWriter(open(net, name, "writer", options));
  }

  /** Opens the sequence `name` as a reader (a non-voting learner). */
  static reader<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): VecReader<T> {
    return new VecReader(open(net, name, "reader", options));
  }
}

function open(
  net: CollectionNetwork,
  name: string,
  role: "writer" | "reader",
  options?: CollectionOptions,
): OpenedStore {
  return openStore(net, "vec", name, (n) => new VecMachine(n), "", role, options);
}
