// The pure collection state machines against plain JS models (fast-check),
// snapshot fidelity, and malformed commands / snapshots (fuzz).
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { decode, encode } from "@mosaik/transport";
import type { Machine } from "./_machine.ts";
import { CellMachine, CellOp } from "./_cell_machine.ts";
import { MapMachine, MapOp } from "./_map_machine.ts";
import { PqMachine, PqOp } from "./_pq_machine.ts";
import { SetMachine, SetOp } from "./_set_machine.ts";
import { VecMachine, VecOp } from "./_vec_machine.ts";
import { storeId } from "./options.ts";
import { lookupId } from "./_util.ts";

/** Applies a command as the log delivers it: encoded, then decoded. */
function run<S>(m: Machine<S>, cmd: readonly unknown[]): unknown {
  return m.apply(decode(encode(cmd)));
}

/** A fresh machine restored from `m`'s snapshot after a MessagePack round trip. */
function clone<S, M extends Machine<S>>(m: M, make: () => M): M {
  const c = make();
  c.restore(decode<S>(encode(m.snapshot())));
  return c;
}

const key = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom("a", "b", "c"));
const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.constant("x"));
const opt = fc.option(value, { nil: undefined });
const wrap = (v: unknown) => (v === undefined ? [] : [v]);

Deno.test("map machine matches a JS Map model, snapshots round-trip", () => {
  const cmd = fc.oneof(
    fc.tuple(fc.constant(MapOp.Insert), key, value),
    fc.tuple(fc.constant(MapOp.CompareExchange), key, opt, opt),
    fc.tuple(fc.constant(MapOp.RemoveMany), fc.array(key, { maxLength: 3 })),
    fc.tuple(fc.constant(MapOp.Extend), fc.array(fc.tuple(key, value), { maxLength: 4 })),
    fc.constant([MapOp.Clear] as const),
  );
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
      const m = new MapMachine<unknown, unknown>("m");
      const model = new Map<unknown, unknown>();
      for (const c of cmds) {
        let expectSwap: boolean | undefined;
        switch (c[0]) {
          case MapOp.Insert:
            model.set(c[1], c[2]);
            break;
          case MapOp.CompareExchange: {
            const [, k, exp, next] = c;
            expectSwap = model.has(k)
              ? exp !== undefined && model.get(k) === exp
              : exp === undefined;
            if (expectSwap) next === undefined ? model.delete(k) : model.set(k, next);
            break;
          }
          case MapOp.RemoveMany:
            for (const k of c[1]) model.delete(k);
            break;
          case MapOp.Extend:
            for (const [k, v] of c[1]) model.set(k, v);
            break;
          case MapOp.Clear:
            model.clear();
        }
        const wire = c[0] === MapOp.CompareExchange ? [c[0], c[1], wrap(c[2]), wrap(c[3])] : c;
        const r = run(m, wire as unknown[]);
        if (expectSwap !== undefined) assert.equal(r, expectSwap);
      }
      assert.deepEqual([...m.data.values()], [...model]);
      const c = clone(m, () => new MapMachine("m"));
      assert.deepEqual([...c.data.values()], [...model]);
      run(c, [MapOp.Insert, "z", 1]);
      run(m, [MapOp.Insert, "z", 1]);
      assert.deepEqual(c.snapshot(), m.snapshot());
    }),
    { numRuns: 300 },
  );
});

Deno.test("map machine: keys compare by encoding, object keys work, values are frozen", () => {
  const m = new MapMachine<unknown, unknown>("m");
  run(m, [MapOp.Insert, { a: [1, 2] }, { deep: { x: 1 } }]);
  run(m, [MapOp.Insert, { a: [1, 2] }, { deep: { x: 2 } }]);
  assert.equal(m.size, 1);
  const [[, v]] = m.data.values();
  assert.ok(Object.isFrozen(v) && Object.isFrozen((v as { deep: object }).deep));
  assert.equal(run(m, [MapOp.CompareExchange, { a: [1, 2] }, [{ deep: { x: 2 } }], []]), true);
  assert.equal(m.size, 0);
  assert.equal(m.data.has(lookupId(() => 1)), false, "unencodable keys are simply absent");
  const tricky = [[1], "\0b\x91\x01", "\0x", "1", 1, "\0s1", "\0"];
  for (const k of tricky) run(m, [MapOp.Insert, k, k]);
  assert.equal(m.size, tricky.length, "escaped ids never collide");
  for (const k of tricky) assert.deepEqual(m.data.get(lookupId(k))?.[1], k);
  run(m, [MapOp.Clear]);
  run(m, [MapOp.Insert, new Uint8Array([1, 2]), 1]);
  run(m, [MapOp.Insert, new Uint8Array([1, 2]), 2]);
  assert.equal(m.size, 1);
});

Deno.test("vec machine matches an array model; out-of-range insert is a no-op", () => {
  const idx = fc.oneof(fc.integer({ min: -2, max: 8 }), fc.constant(1.5));
  const cmd = fc.oneof(
    fc.tuple(fc.constant(VecOp.PushBack), value),
    fc.tuple(fc.constant(VecOp.PushFront), value),
    fc.tuple(fc.constant(VecOp.Insert), idx, value),
    fc.tuple(fc.constant(VecOp.Swap), idx, idx),
    fc.tuple(fc.constant(VecOp.Remove), idx),
    fc.tuple(fc.constant(VecOp.Truncate), idx),
    fc.tuple(fc.constant(VecOp.Extend), fc.array(value, { maxLength: 4 })),
    fc.constantFrom([VecOp.PopBack], [VecOp.PopFront], [VecOp.Clear]),
  );
  const ok = (i: number, n: number) => Number.isInteger(i) && i >= 0 && i < n;
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
      const m = new VecMachine<unknown>("v");
      let a: unknown[] = [];
      for (const c of cmds) {
        let removed: unknown[] | undefined;
        switch (c[0]) {
          case VecOp.PushBack:
            a.push(c[1]);
            break;
          case VecOp.PushFront:
            a.unshift(c[1]);
            break;
          case VecOp.Insert:
            if (ok(c[1], a.length + 1)) a.splice(c[1], 0, c[2]);
            break;
          case VecOp.Swap:
            if (ok(c[1], a.length) && ok(c[2], a.length)) [a[c[1]], a[c[2]]] = [a[c[2]], a[c[1]]];
            break;
          case VecOp.Remove:
            removed = ok(c[1], a.length) ? a.splice(c[1], 1) : [];
            break;
          case VecOp.Truncate:
            if (ok(c[1], a.length + 1)) a = a.slice(0, c[1]);
            break;
          case VecOp.Extend:
            a.push(...c[1]);
            break;
          case VecOp.PopBack:
            removed = a.length ? [a.pop()] : [];
            break;
          case VecOp.PopFront:
            removed = a.length ? [a.shift()] : [];
            break;
          case VecOp.Clear:
            a = [];
        }
        const r = run(m, c as unknown[]);
        if (removed) assert.deepEqual(r, removed);
      }
      assert.deepEqual(m.data, a);
      assert.deepEqual(clone(m, () => new VecMachine("v")).data, a);
    }),
    { numRuns: 300 },
  );
});

Deno.test("set machine matches a JS Set model", () => {
  const cmd = fc.oneof(
    fc.tuple(fc.constant(SetOp.Insert), key),
    fc.tuple(fc.constant(SetOp.RemoveMany), fc.array(key, { maxLength: 3 })),
    fc.tuple(fc.constant(SetOp.Extend), fc.array(key, { maxLength: 4 })),
    fc.constant([SetOp.Clear] as const),
  );
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
      const m = new SetMachine<unknown>("s");
      const model = new Set<unknown>();
      for (const c of cmds) {
        if (c[0] === SetOp.Insert) model.add(c[1]);
        else if (c[0] === SetOp.RemoveMany) c[1].forEach((k) => model.delete(k));
        else if (c[0] === SetOp.Extend) c[1].forEach((k) => model.add(k));
        else model.clear();
        run(m, c as unknown[]);
      }
      assert.deepEqual([...m.data.values()], [...model]);
      assert.deepEqual([...clone(m, () => new SetMachine("s")).data.values()], [...model]);
    }),
    { numRuns: 300 },
  );
});

Deno.test("cell and once machines match a model", () => {
  const cmd = fc.oneof(
    fc.tuple(fc.constant(CellOp.Write), value),
    fc.tuple(fc.constant(CellOp.CompareExchange), opt, opt),
    fc.constant([CellOp.Clear] as const),
  );
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => {
      const cell = new CellMachine<unknown>("c");
      const once = new CellMachine<unknown>("o", true);
      let model: unknown[] = [];
      let first: unknown[] = [];
      for (const c of cmds) {
        if (c[0] === CellOp.Write) {
          model = [c[1]];
          if (!first.length) first = [c[1]];
          run(cell, c as unknown[]);
          run(once, c as unknown[]);
        } else if (c[0] === CellOp.Clear) {
          model = [];
          run(cell, c);
          run(once, c); // ignored by once
        } else {
          const [, exp, next] = c;
          const swap = model.length ? exp !== undefined && model[0] === exp : exp === undefined;
          if (swap) model = wrap(next);
          assert.equal(run(cell, [c[0], wrap(exp), wrap(next)]), swap);
          run(once, [c[0], wrap(exp), wrap(next)]);
        }
      }
      assert.deepEqual(cell.value, model);
      assert.deepEqual(once.value, first);
      assert.deepEqual(clone(cell, () => new CellMachine("c")).value, model);
      assert.deepEqual(clone(once, () => new CellMachine("o", true)).value, first);
    }),
    { numRuns: 300 },
  );
});

interface ModelEntry {
  p: number | string;
  k: unknown;
  v: unknown;
  seq: number;
}

/** A naive priority queue: a list sorted on demand. */
class PqModel {
  list: ModelEntry[] = [];
  seq = 0;
  constructor(readonly cap: number) {}
  asc(): ModelEntry[] {
    const cmp = (a: number | string, b: number | string) =>
      typeof a !== typeof b ? (typeof a === "number" ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0;
    return [...this.list].sort((a, b) => cmp(a.p, b.p) || a.seq - b.seq);
  }
  find(k: unknown) {
    return this.list.find((e) => e.k === k);
  }
  drop(e: ModelEntry) {
    this.list = this.list.filter((x) => x !== e);
  }
  insert(p: number | string, k: unknown, v: unknown) {
    const e = this.find(k);
    if (e && e.p === p) e.v = v;
    else {
      if (e) this.drop(e);
      this.list.push({ p, k, v, seq: this.seq++ });
    }
  }
  evict() {
    while (this.list.length > this.cap) this.drop(this.asc()[0]);
  }
}

Deno.test("priority queue machine matches a sorted-list model (bounded and unbounded)", () => {
  const prio = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom("p", "q"));
  const bound = fc.option(prio, { nil: null });
  const cmd = fc.oneof(
    fc.tuple(fc.constant(PqOp.Insert), prio, key, value),
    fc.tuple(fc.constant(PqOp.Extend), fc.array(fc.tuple(prio, key, value), { maxLength: 4 })),
    fc.tuple(fc.constant(PqOp.UpdatePriority), key, prio),
    fc.tuple(fc.constant(PqOp.UpdateValue), key, value),
    fc.tuple(fc.constant(PqOp.CompareExchangeValue), key, value, opt),
    fc.tuple(fc.constant(PqOp.RemoveKeys), fc.array(key, { maxLength: 3 })),
    fc.tuple(fc.constant(PqOp.RemoveRange), bound, fc.boolean(), bound, fc.boolean()),
    fc.constantFrom([PqOp.PopMin], [PqOp.PopMax], [PqOp.Clear]),
  );
  fc.assert(
    fc.property(
      fc.array(cmd, { maxLength: 60 }),
      fc.constantFrom(Infinity, 0, 1, 3),
      (cmds, cap) => {
        const m = new PqMachine<number | string, unknown, unknown>("q", cap);
        const model = new PqModel(cap);
        for (const c of cmds) {
          let expected: unknown = undefined;
          let wire: unknown[] = c as unknown[];
          switch (c[0]) {
            case PqOp.Insert:
              model.insert(c[1], c[2], c[3]);
              model.evict();
              break;
            case PqOp.Extend:
              for (const [p, k, v] of c[1]) {
                model.insert(p, k, v);
                model.evict();
              }
              break;
            case PqOp.UpdatePriority: {
              const e = model.find(c[1]);
              if (e) model.insert(c[2], e.k, e.v);
              break;
            }
            case PqOp.UpdateValue: {
              const e = model.find(c[1]);
              if (e) e.v = c[2];
              break;
            }
            case PqOp.CompareExchangeValue: {
              const e = model.find(c[1]);
              expected = !!e && e.v === c[2];
              if (expected) c[3] === undefined ? model.drop(e!) : (e!.v = c[3]);
              wire = [c[0], c[1], c[2], wrap(c[3])];
              break;
            }
            case PqOp.RemoveKeys:
              for (const k of c[1]) {
                const e = model.find(k);
                if (e) model.drop(e);
              }
              break;
            case PqOp.RemoveRange: {
              const [, s, sx, e, ei] = c;
              const cmp = (a: number | string, b: number | string) =>
                typeof a !== typeof b
                  ? (typeof a === "number" ? -1 : 1)
                  : a < b
                  ? -1
                  : a > b
                  ? 1
                  : 0;
              model.list = model.list.filter((x) =>
                !((s === null || cmp(x.p, s) > 0 || (cmp(x.p, s) === 0 && !sx)) &&
                  (e === null || cmp(x.p, e) < 0 || (cmp(x.p, e) === 0 && ei)))
              );
              break;
            }
            case PqOp.PopMin:
            case PqOp.PopMax: {
              const asc = model.asc();
              const e = c[0] === PqOp.PopMin ? asc[0] : asc[asc.length - 1];
              expected = e ? [[e.p, e.k, e.v]] : [];
              if (e) model.drop(e);
              break;
            }
            case PqOp.Clear:
              model.list = [];
          }
          const r = run(m, wire);
          if (expected !== undefined) assert.deepEqual(r, expected);
        }
        const asc = model.asc().map((e) => [e.p, e.k, e.v]);
        assert.deepEqual(m.snapshot(), asc);
        assert.deepEqual(
          [...m.descending()].map((e) => [e.priority, e.key, e.value]),
          asc.reverse(),
        );
        assert.deepEqual(m.priorities, [...new Set(m.snapshot().map((e) => e[0]))]);
        const c = clone(m, () => new PqMachine("q", cap));
        assert.deepEqual(c.snapshot(), m.snapshot());
        run(c, [PqOp.Insert, 1, "new", 1]);
        run(m, [PqOp.Insert, 1, "new", 1]);
        assert.deepEqual(c.snapshot(), m.snapshot());
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("malformed commands and snapshots never throw and change nothing they should not", () => {
  const makers: (() => Machine<unknown>)[] = [
    () => new MapMachine("m") as Machine<unknown>,
    () => new SetMachine("s") as Machine<unknown>,
    () => new VecMachine("v") as Machine<unknown>,
    () => new CellMachine("c") as Machine<unknown>,
    () => new CellMachine("o", true) as Machine<unknown>,
    () => new PqMachine("q", 4) as Machine<unknown>,
  ];
  const junk = fc.oneof(
    fc.anything(),
    fc.tuple(fc.integer({ min: -1, max: 10 }), fc.anything(), fc.anything(), fc.anything()),
    fc.tuple(fc.integer({ min: 0, max: 9 }), fc.array(fc.anything(), { maxLength: 3 })),
    fc.array(fc.anything(), { maxLength: 6 }),
  );
  for (const make of makers) {
    fc.assert(
      fc.property(fc.array(junk, { maxLength: 20 }), fc.anything(), (cmds, snap) => {
        const m = make();
        for (const c of cmds) {
          let wire: unknown;
          try {
            wire = decode(encode(c));
          } catch {
            continue; // not encodable: could never be in the log
          }
          m.apply(wire);
        }
        const again = make();
        again.restore(decode(encode(m.snapshot())));
        assert.deepEqual(again.snapshot(), m.snapshot());
        let wire: unknown;
        try {
          wire = decode(encode(snap));
        } catch {
          return; // not encodable: could never be sent
        }
        m.restore(wire);
        // Whatever a malformed snapshot left is a consistent state: it
        // survives its own snapshot round trip, and a non-list leaves nothing.
        const left = m.snapshot();
        const copy = make();
        copy.restore(decode(encode(left)));
        assert.deepEqual(copy.snapshot(), left);
        assert.equal(copy.size, m.size);
        if (!Array.isArray(wire)) assert.equal(m.size, 0);
      }),
      { numRuns: 500 },
    );
  }
});

Deno.test("store ids separate names, kinds and schemas", () => {
  const ids = new Set([
    storeId("map", "a"),
    storeId("map", "b"),
    storeId("set", "a"),
    storeId("map", "a", "v2"),
    storeId("depq", "a"),
  ]);
  assert.equal(ids.size, 5);
  assert.equal(storeId("map", "a"), storeId("map", "a"));
});
