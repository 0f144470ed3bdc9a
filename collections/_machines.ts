// The six collection state machines. Pure and deterministic: every member
// applies the same commands in log order and ends with the same state, the
// same iteration order and the same results. Commands come from the log, so
// every apply validates its input and treats a malformed command as a no-op
// (it still consumes its log index); nothing here throws on bad input.
import type { StateMachine } from "@mosaik/groups";
import { freeze, isIndex, type KeyId, keyId, sameBytes } from "./_util.ts";

/** An optional value on the wire: `[]` is absent, `[v]` present (v may be null). */
export type Opt<T> = [] | [T];

/** Base of the machines: change notification and the unused query path. */
export abstract class Machine<S> implements StateMachine<unknown, unknown, unknown, undefined, S> {
  /** Type, version and parameters of the machine (part of the GroupId). */
  readonly name: string;
  /** Called after every applied command and every restore. */
  onChange: (() => void) | undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Number of elements. */
  abstract get size(): number;

  /** Applies one command; malformed commands are no-ops. */
  apply(command: unknown): unknown {
    try {
      return Array.isArray(command) ? this.step(command) : undefined;
    } finally {
      this.onChange?.();
    }
  }

  /** Collections are read locally; the group query path answers nothing. */
  query(): undefined {
    return undefined;
  }

  /** Replaces the state; a malformed snapshot leaves the machine empty. */
  restore(snapshot: S): void {
    this.clear();
    if (Array.isArray(snapshot)) this.load(snapshot);
    this.onChange?.();
  }

  abstract snapshot(): S;
  protected abstract step(command: unknown[]): unknown;
  protected abstract clear(): void;
  protected abstract load(snapshot: unknown[]): void;
}

function isOpt(x: unknown): x is Opt<unknown> {
  return Array.isArray(x) && x.length <= 1;
}

// ------------------------------------------------------------------ map

/** Map commands. */
export const MapOp = { Clear: 0, Insert: 1, CompareExchange: 2, RemoveMany: 3, Extend: 4 } as const;

/** Key-value map; iteration in insertion order (identical on every member). */
export class MapMachine<K, V> extends Machine<[K, V][]> {
  readonly data = new Map<KeyId, readonly [K, V]>();

  get size(): number {
    return this.data.size;
  }

  protected step(c: unknown[]): unknown {
    switch (c[0]) {
      case MapOp.Clear:
        this.data.clear();
        break;
      case MapOp.Insert:
        if (c.length === 3) this.#set(c[1] as K, c[2] as V);
        break;
      case MapOp.CompareExchange: {
        const [, key, expected, next] = c;
        if (c.length !== 4 || !isOpt(expected) || !isOpt(next)) return false;
        const id = keyId(key);
        const current = this.data.get(id);
        const matches = current === undefined
          ? expected.length === 0
          : expected.length === 1 && sameBytes(current[1], expected[0]);
        if (!matches) return false;
        if (next.length === 1) this.#set(key as K, next[0] as V);
        else this.data.delete(id);
        return true;
      }
      case MapOp.RemoveMany:
        if (Array.isArray(c[1])) { for (const k of c[1]) this.data.delete(keyId(k)); }
        break;
      case MapOp.Extend:
        if (Array.isArray(c[1])) {
          for (const e of c[1]) if (Array.isArray(e) && e.length === 2) this.#set(e[0], e[1]);
        }
        break;
    }
    return undefined;
  }

  #set(key: K, value: V): void {
    const id = keyId(key);
    const old = this.data.get(id);
    this.data.set(id, [old ? old[0] : freeze(key), freeze(value)]);
  }

  snapshot(): [K, V][] {
    return [...this.data.values()] as [K, V][];
  }

  protected clear(): void {
    this.data.clear();
  }

  protected load(s: unknown[]): void {
    for (const e of s) if (Array.isArray(e) && e.length === 2) this.#set(e[0], e[1]);
  }
}

// ------------------------------------------------------------------ set

/** Set commands. */
export const SetOp = { Clear: 0, Insert: 1, RemoveMany: 3, Extend: 4 } as const;

/** Set of values; iteration in insertion order. */
export class SetMachine<T> extends Machine<T[]> {
  readonly data = new Map<KeyId, T>();

  get size(): number {
    return this.data.size;
  }

  protected step(c: unknown[]): unknown {
    switch (c[0]) {
      case SetOp.Clear:
        this.data.clear();
        break;
      case SetOp.Insert:
        if (c.length === 2) this.#add(c[1] as T);
        break;
      case SetOp.RemoveMany:
        if (Array.isArray(c[1])) { for (const v of c[1]) this.data.delete(keyId(v)); }
        break;
      case SetOp.Extend:
        if (Array.isArray(c[1])) { for (const v of c[1]) this.#add(v); }
        break;
    }
    return undefined;
  }

  #add(value: T): void {
    const id = keyId(value);
    if (!this.data.has(id)) this.data.set(id, freeze(value));
  }

  snapshot(): T[] {
    return [...this.data.values()];
  }

  protected clear(): void {
    this.data.clear();
  }

  protected load(s: unknown[]): void {
    for (const v of s) this.#add(v as T);
  }
}

// ------------------------------------------------------------------ vec

/** Vec commands. */
export const VecOp = {
  Clear: 0,
  Swap: 1,
  Insert: 2,
  PushBack: 3,
  PushFront: 4,
  PopBack: 5,
  PopFront: 6,
  Remove: 7,
  Truncate: 8,
  Extend: 9,
} as const;

/**
 * Sequence. Out-of-range `insert`, `swap` and `remove` are no-ops (the Rust
 * original crashed the replicated state machine on an insert past the end).
 * Pops and `remove` return the removed element as an {@linkcode Opt}.
 */
export class VecMachine<T> extends Machine<T[]> {
  data: T[] = [];

  get size(): number {
    return this.data.length;
  }

  protected step(c: unknown[]): unknown {
    const d = this.data;
    switch (c[0]) {
      case VecOp.Clear:
        this.data = [];
        break;
      case VecOp.Swap: {
        const [, i, j] = c;
        if (isIndex(i) && isIndex(j) && i < d.length && j < d.length) [d[i], d[j]] = [d[j], d[i]];
        break;
      }
      case VecOp.Insert:
        if (c.length === 3 && isIndex(c[1]) && c[1] <= d.length) {
          d.splice(c[1], 0, freeze(c[2] as T));
        }
        break;
      case VecOp.PushBack:
        if (c.length === 2) d.push(freeze(c[1] as T));
        break;
      case VecOp.PushFront:
        if (c.length === 2) d.unshift(freeze(c[1] as T));
        break;
      case VecOp.PopBack:
        return d.length ? [d.pop()] : [];
      case VecOp.PopFront:
        return d.length ? [d.shift()] : [];
      case VecOp.Remove:
        return isIndex(c[1]) && c[1] < d.length ? d.splice(c[1], 1) : [];
      case VecOp.Truncate:
        if (isIndex(c[1]) && c[1] < d.length) d.length = c[1];
        break;
      case VecOp.Extend:
        if (Array.isArray(c[1])) { for (const v of c[1]) d.push(freeze(v)); }
        break;
    }
    return undefined;
  }

  snapshot(): T[] {
    return this.data;
  }

  protected clear(): void {
    this.data = [];
  }

  protected load(s: unknown[]): void {
    this.data = s.map((v) => freeze(v as T));
  }
}

// ------------------------------------------------------------------ cell / once

/** Cell commands. */
export const CellOp = { Clear: 0, Write: 1, CompareExchange: 2 } as const;

/** A single optional value. `compare_exchange` returns whether it swapped. */
export class CellMachine<T> extends Machine<Opt<T>> {
  value: Opt<T> = [];
  /** When set, the first write wins and later writes are ignored (`SharedOnce`). */
  readonly once: boolean;

  constructor(name: string, once = false) {
    super(name);
    this.once = once;
  }

  get size(): number {
    return this.value.length;
  }

  protected step(c: unknown[]): unknown {
    if (this.once) {
      if (c[0] === CellOp.Write && c.length === 2 && !this.value.length) {
        this.value = [freeze(c[1] as T)];
      }
      return undefined;
    }
    switch (c[0]) {
      case CellOp.Clear:
        this.value = [];
        break;
      case CellOp.Write:
        if (c.length === 2) this.value = [freeze(c[1] as T)];
        break;
      case CellOp.CompareExchange: {
        const [, expected, next] = c;
        if (c.length !== 3 || !isOpt(expected) || !isOpt(next)) return false;
        const cur = this.value;
        const matches = cur.length === expected.length &&
          (cur.length === 0 || sameBytes(cur[0], expected[0]));
        if (!matches) return false;
        this.value = next.length ? [freeze(next[0] as T)] : [];
        return true;
      }
    }
    return undefined;
  }

  snapshot(): Opt<T> {
    return this.value;
  }

  protected clear(): void {
    this.value = [];
  }

  protected load(s: unknown[]): void {
    if (s.length === 1) this.value = [freeze(s[0] as T)];
  }
}

// ------------------------------------------------------------------ priority queue

/** Priorities: numbers (not NaN) order before strings; strings by code units. */
export type Priority = number | string;

/** Priority queue commands. */
export const PqOp = {
  Clear: 0,
  Insert: 1,
  Extend: 2,
  UpdatePriority: 3,
  UpdateValue: 4,
  CompareExchangeValue: 5,
  RemoveKeys: 6,
  RemoveRange: 7,
  PopMin: 8,
  PopMax: 9,
} as const;

/** Orders priorities. */
export function comparePriority(a: Priority, b: Priority): number {
  if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPriority(p: unknown): p is Priority {
  return typeof p === "string" || (typeof p === "number" && !Number.isNaN(p));
}

/** One entry of a priority queue. */
export interface PqEntry<P, K, V> {
  /** Priority of the entry. */
  priority: P;
  /** Key (unique in the queue). */
  key: K;
  /** Value. */
  value: V;
}

/**
 * Double-ended priority queue keyed by K. Entries of equal priority keep
 * insertion order; the minimum is the first entry of the lowest priority and
 * the maximum the last entry of the highest. Above `capacity`, the minimum is
 * evicted (possibly the entry just inserted).
 */
export class PqMachine<P extends Priority, K, V> extends Machine<[P, K, V][]> {
  readonly byKey = new Map<KeyId, PqEntry<P, K, V>>();
  /** Distinct priorities, ascending. */
  readonly priorities: P[] = [];
  readonly buckets = new Map<P, Map<KeyId, PqEntry<P, K, V>>>();
  readonly capacity: number;

  constructor(name: string, capacity = Infinity) {
    super(name);
    this.capacity = capacity;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Index of `p` in `priorities`, or where it would go. */
  #search(p: P): number {
    let lo = 0, hi = this.priorities.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePriority(this.priorities[mid], p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #link(id: KeyId, e: PqEntry<P, K, V>): void {
    let bucket = this.buckets.get(e.priority);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(e.priority, bucket);
      this.priorities.splice(this.#search(e.priority), 0, e.priority);
    }
    bucket.set(id, e);
    this.byKey.set(id, e);
  }

  #unlink(id: KeyId): PqEntry<P, K, V> | undefined {
    const e = this.byKey.get(id);
    if (!e) return undefined;
    this.byKey.delete(id);
    const bucket = this.buckets.get(e.priority)!;
    bucket.delete(id);
    if (!bucket.size) {
      this.buckets.delete(e.priority);
      this.priorities.splice(this.#search(e.priority), 1);
    }
    return e;
  }

  #insert(p: unknown, key: unknown, value: unknown): void {
    if (!isPriority(p)) return;
    const id = keyId(key);
    const old = this.byKey.get(id);
    if (old && comparePriority(old.priority, p) === 0) old.value = freeze(value as V);
    else {
      this.#unlink(id);
      this.#link(id, {
        priority: p as P,
        key: freeze(old ? old.key : key as K),
        value: freeze(value as V),
      });
    }
  }

  #evict(): void {
    while (this.byKey.size > this.capacity) this.#pop(true);
  }

  #pop(min: boolean): Opt<[P, K, V]> {
    if (!this.priorities.length) return [];
    const p = this.priorities[min ? 0 : this.priorities.length - 1];
    const bucket = this.buckets.get(p)!;
    let id: KeyId | undefined;
    if (min) id = bucket.keys().next().value;
    else for (id of bucket.keys());
    const e = this.#unlink(id!)!;
    return [[e.priority, e.key, e.value]];
  }

  #inRange(p: P, start: unknown, startExcl: unknown, end: unknown, endIncl: unknown): boolean {
    if (start !== null) {
      const c = comparePriority(p, start as P);
      if (c < 0 || (c === 0 && startExcl === true)) return false;
    }
    if (end !== null) {
      const c = comparePriority(p, end as P);
      if (c > 0 || (c === 0 && endIncl !== true)) return false;
    }
    return true;
  }

  protected step(c: unknown[]): unknown {
    switch (c[0]) {
      case PqOp.Clear:
        this.clear();
        break;
      case PqOp.Insert:
        if (c.length === 4) this.#insert(c[1], c[2], c[3]);
        this.#evict();
        break;
      case PqOp.Extend:
        if (Array.isArray(c[1])) {
          for (const e of c[1]) {
            if (Array.isArray(e) && e.length === 3) this.#insert(e[0], e[1], e[2]);
            this.#evict();
          }
        }
        break;
      case PqOp.UpdatePriority: {
        const e = this.byKey.get(keyId(c[1]));
        if (e && c.length === 3) this.#insert(c[2], e.key, e.value);
        break;
      }
      case PqOp.UpdateValue: {
        const e = this.byKey.get(keyId(c[1]));
        if (e && c.length === 3) e.value = freeze(c[2] as V);
        break;
      }
      case PqOp.CompareExchangeValue: {
        const [, key, expected, next] = c;
        const id = keyId(key);
        const e = this.byKey.get(id);
        if (!e || c.length !== 4 || !isOpt(next) || !sameBytes(e.value, expected)) return false;
        if (next.length) e.value = freeze(next[0] as V);
        else this.#unlink(id);
        return true;
      }
      case PqOp.RemoveKeys:
        if (Array.isArray(c[1])) { for (const k of c[1]) this.#unlink(keyId(k)); }
        break;
      case PqOp.RemoveRange: {
        const [, start, startExcl, end, endIncl] = c;
        if (c.length !== 5 || (start !== null && !isPriority(start))) break;
        if (end !== null && !isPriority(end)) break;
        for (
          const p of this.priorities.filter((p) => this.#inRange(p, start, startExcl, end, endIncl))
        ) {
          for (const id of [...this.buckets.get(p)!.keys()]) this.#unlink(id);
        }
        break;
      }
      case PqOp.PopMin:
        return this.#pop(true);
      case PqOp.PopMax:
        return this.#pop(false);
    }
    return undefined;
  }

  /** Entries in ascending order. */
  *ascending(): Generator<PqEntry<P, K, V>> {
    for (const p of this.priorities) yield* this.buckets.get(p)!.values();
  }

  /** Entries in descending order (the exact reverse of {@linkcode ascending}). */
  *descending(): Generator<PqEntry<P, K, V>> {
    for (let i = this.priorities.length - 1; i >= 0; i--) {
      yield* [...this.buckets.get(this.priorities[i])!.values()].reverse();
    }
  }

  snapshot(): [P, K, V][] {
    return [...this.ascending()].map((e) => [e.priority, e.key, e.value]);
  }

  protected clear(): void {
    this.byKey.clear();
    this.buckets.clear();
    this.priorities.length = 0;
  }

  protected load(s: unknown[]): void {
    for (const e of s) if (Array.isArray(e) && e.length === 3) this.#insert(e[0], e[1], e[2]);
    this.#evict();
  }
}
