// The map state machine. Pure and deterministic; malformed commands are no-ops.
import { isOpt, Machine } from "./_machine.ts";
import { freeze, type KeyId, keyId, sameBytes } from "./_util.ts";

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
