/**
 * {@linkcode SharedCell} (a replicated register) and {@linkcode SharedOnce}
 * (a replicated write-once value).
 *
 * @module
 */
import { ClosedError } from "@mosaik/transport";
import { CellMachine, CellOp } from "./_cell_machine.ts";
import { machineOf, openStore, write } from "./_open.ts";
import { Collection, type OpenedStore } from "./collection.ts";
import type { CollectionNetwork, CollectionOptions, Exchanged, Version } from "./options.ts";

/** Read side of a replicated register (and of a write-once value). */
export class CellReader<T> extends Collection {
  /** Made by {@linkcode SharedCell.reader} / {@linkcode SharedOnce.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  /** The value, or undefined when empty. */
  get(): T | undefined {
    const v = machineOf<CellMachine<T>>(this).value;
    return v.length ? v[0] : undefined;
  }

  /** Whether there is no value. */
  get isEmpty(): boolean {
    return machineOf<CellMachine<T>>(this).value.length === 0;
  }
}

/** Read and write side of a replicated register. */
export class CellWriter<T> extends CellReader<T> {
  /** Made by {@linkcode SharedCell.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  /** Replaces the value. */
  async write(value: T): Promise<Version> {
    return (await write(this, [CellOp.Write, value], value)).version;
  }

  /** Empties the cell. */
  async clear(): Promise<Version> {
    return (await write(this, [CellOp.Clear], undefined)).version;
  }

  /**
   * Atomically: if the value equals `expected` (same MessagePack bytes;
   * `undefined` = empty), replaces it with `next` (`undefined` empties).
   */
  async compareExchange(expected: T | undefined, next: T | undefined): Promise<Exchanged> {
    const cmd = [
      CellOp.CompareExchange,
      expected === undefined ? [] : [expected],
      next === undefined ? [] : [next],
    ];
    const { version, result } = await write(this, cmd, [expected, next] as const);
    return { version, swapped: result === true };
  }
}

/**
 * A replicated register (see `SharedMap` for roles and consistency).
 *
 * @example
 * ```ts ignore
 * const config = SharedCell.writer<{ fee: number }>(network, "config");
 * await config.when.online();
 * await config.write({ fee: 3 });
 * await config.compareExchange({ fee: 3 }, { fee: 4 }); // { version, swapped: true }
 * ```
 */
export class SharedCell {
  private constructor() {}

  /** Opens the register `name` as a writer (a voting member). */
  static writer<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): CellWriter<T> {
    return new CellWriter(open(net, "cell", name, "writer", options));
  }

  /** Opens the register `name` as a reader (a non-voting learner). */
  static reader<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): CellReader<T> {
    return new CellReader(open(net, "cell", name, "reader", options));
  }
}

/** Read side of a write-once value. */
export class OnceReader<T> extends CellReader<T> {
  /** Made by {@linkcode SharedOnce.reader}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  /** Resolves with the value as soon as this node has it. */
  async awaitValue(): Promise<T> {
    for (;;) {
      const m = machineOf<CellMachine<T>>(this);
      if (m.value.length) return m.value[0];
      if (this.closed) throw new ClosedError("the collection is closed");
      await this.when.updated();
    }
  }
}

/** Read and write side of a write-once value. */
export class OnceWriter<T> extends OnceReader<T> {
  /** Made by {@linkcode SharedOnce.writer}. */
  constructor(opened: OpenedStore) {
    super(opened);
  }

  /**
   * Sets the value if it was never set; the first write in log order wins and
   * later writes change nothing (they still get a version).
   */
  async write(value: T): Promise<Version> {
    return (await write(this, [CellOp.Write, value], value)).version;
  }
}

/**
 * A replicated write-once value (see `SharedMap` for roles and consistency).
 *
 * @example
 * ```ts ignore
 * const genesis = SharedOnce.writer<string>(network, "genesis");
 * await genesis.write("block-0"); // first write in log order wins
 * const value = await SharedOnce.reader<string>(other, "genesis").awaitValue();
 * ```
 */
export class SharedOnce {
  private constructor() {}

  /** Opens the value `name` as a writer (a voting member). */
  static writer<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): OnceWriter<T> {
    return new OnceWriter(open(net, "once", name, "writer", options));
  }

  /** Opens the value `name` as a reader (a non-voting learner). */
  static reader<T>(
    net: CollectionNetwork,
    name: string,
    options?: CollectionOptions,
  ): OnceReader<T> {
    return new OnceReader(open(net, "once", name, "reader", options));
  }
}

function open(
  net: CollectionNetwork,
  kind: "cell" | "once",
  name: string,
  role: "writer" | "reader",
  options?: CollectionOptions,
): OpenedStore {
  return openStore(
    net,
    kind,
    name,
    (n) => new CellMachine(n, kind === "once"),
    "",
    role,
    options,
  );
}
