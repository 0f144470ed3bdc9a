// The double-ended priority queue state machine. Pure and deterministic; malformed commands are no-ops.
import { isOpt, Machine, type Opt } from "./_machine.ts";
import { freeze, type KeyId, keyId, sameBytes } from "./_util.ts";

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
