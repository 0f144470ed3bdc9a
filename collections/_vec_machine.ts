// The vector state machine. Pure and deterministic; malformed commands are no-ops.
import { Machine } from "./_machine.ts";
import { freeze, isIndex } from "./_util.ts";

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
