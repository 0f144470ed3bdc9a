// The set state machine. Pure and deterministic; malformed commands are no-ops.
import { Machine } from "./_machine.ts";
import { freeze, type KeyId, keyId } from "./_util.ts";

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
