/**
 * State machines for tests, benchmarks and examples: a counter and a
 * key-value store. Exported from `@mosaik/groups/testing`.
 *
 * @module
 */
import type { StateMachine } from "./state_machine.ts";

/** Command of {@linkcode Counter}: adds `add` (a negative number subtracts). */
export interface CounterCommand {
  /** The amount to add. */
  add: number;
}

/**
 * A replicated counter: `apply` adds and returns the new value, every query
 * answers the value.
 *
 * @example
 * ```ts
 * import { Counter } from "@mosaik/groups/testing";
 * const c = new Counter();
 * console.assert(c.apply({ add: 2 }) === 2 && c.query() === 2);
 * ```
 */
export class Counter implements StateMachine<CounterCommand, number, unknown, number, number> {
  /** Type and version (part of the GroupId). */
  readonly name: string;
  /** The current value. */
  value = 0;

  /** A counter at 0; `name` makes a distinct group type. */
  constructor(name = "counter/v1") {
    this.name = name;
  }

  /** Adds and returns the new value. */
  apply(cmd: CounterCommand): number {
    return this.value += cmd.add;
  }

  /** The value. */
  query(_query?: unknown): number {
    return this.value;
  }

  /** The value. */
  snapshot(): number {
    return this.value;
  }

  /** Sets the value. */
  restore(value: number): void {
    this.value = value;
  }
}

/** Command of {@linkcode KVStore}: sets a key. */
export type KVCommand = ["put", string, string];

/**
 * A replicated string map: `["put", key, value]` sets a key and returns the
 * value; a query is a key and answers its value or null.
 *
 * @example
 * ```ts
 * import { KVStore } from "@mosaik/groups/testing";
 * const kv = new KVStore();
 * kv.apply(["put", "a", "1"]);
 * console.assert(kv.query("a") === "1" && kv.query("b") === null);
 * ```
 */
export class KVStore
  implements StateMachine<KVCommand, string, string, string | null, [string, string][]> {
  /** Type and version (part of the GroupId). */
  readonly name = "kv/v1";
  /** The entries. */
  data: Map<string, string> = new Map();

  /** Sets the key and returns the value. */
  apply(cmd: KVCommand): string {
    this.data.set(cmd[1], cmd[2]);
    return cmd[2];
  }

  /** The key's value, or null. */
  query(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Every entry. */
  snapshot(): [string, string][] {
    return [...this.data];
  }

  /** Replaces every entry. */
  restore(entries: [string, string][]): void {
    this.data = new Map(entries);
  }
}
