// The cell (and once-cell) state machine. Pure and deterministic; malformed commands are no-ops.
import { isOpt, Machine, type Opt } from "./_machine.ts";
import { freeze, sameBytes } from "./_util.ts";

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
