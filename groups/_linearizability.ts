// Linearizability checker in the style of Wing & Gong with Lowe's memoization
// (as in Porcupine/Knossos): depth-first search for a total order of the
// operations that respects real time and the sequential model. Operations
// whose outcome is unknown (a write that timed out or whose node crashed)
// have `ret = Infinity` and may take effect at any point after their call,
// or never.

/** One client operation. */
export interface Op<I, O> {
  /** Invocation time. */
  call: number;
  /** Response time; Infinity when the outcome is unknown. */
  ret: number;
  /** What the client asked. */
  input: I;
  /** What it got (for known outcomes). */
  output?: O;
}

/** A sequential specification. */
export interface Model<S, I, O> {
  /** Initial state. */
  init: S;
  /** Applies `input`; returns whether `output` is what the model answers, and the next state. */
  step(state: S, input: I, output: O | undefined, known: boolean): [boolean, S];
  /** Text form of a state for memoization. */
  key(state: S): string;
}

/** Whether the history is linearizable with respect to the model. */
export function isLinearizable<S, I, O>(model: Model<S, I, O>, ops: Op<I, O>[]): boolean {
  const n = ops.length;
  if (n === 0) return true;
  const seen = new Set<string>();
  const done = new Uint8Array(n);
  let mask = 0n;
  const search = (state: S, left: number): boolean => {
    if (left === 0) return true;
    let minRet = Infinity;
    let allPending = true;
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      if (ops[i].ret < minRet) minRet = ops[i].ret;
      if (ops[i].ret !== Infinity) allPending = false;
    }
    if (allPending) return true; // the rest may never have taken effect
    for (let i = 0; i < n; i++) {
      if (done[i] || ops[i].call > minRet) continue;
      const op = ops[i];
      const [ok, next] = model.step(state, op.input, op.output, op.ret !== Infinity);
      if (!ok) continue;
      const bit = 1n << BigInt(i);
      const k = `${(mask | bit).toString(36)}|${model.key(next)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      done[i] = 1;
      mask |= bit;
      if (search(next, left - 1)) return true;
      done[i] = 0;
      mask &= ~bit;
    }
    return false;
  };
  return search(model.init, n);
}

/** A read/write register: inputs `["w", v]` or `["r"]`, read outputs the value (null if unset). */
export const registerModel: Model<unknown, ["w", unknown] | ["r"], unknown> = {
  init: null,
  step(state, input, output, known) {
    if (input[0] === "w") return [true, input[1]];
    return [!known || output === state, state];
  },
  key: (s) => JSON.stringify(s),
};

/** Checks a multi-key history by checking each key separately (P-compositionality). */
export function checkKV(
  ops: (Op<["w", unknown] | ["r"], unknown> & { key: string })[],
): { ok: boolean; badKey?: string } {
  const byKey = new Map<string, Op<["w", unknown] | ["r"], unknown>[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, list = []);
    list.push(op);
  }
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.call - b.call);
    if (!isLinearizable(registerModel, list)) return { ok: false, badKey: key };
  }
  return { ok: true };
}
