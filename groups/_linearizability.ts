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

/** A call or return event of one operation, in a list that linearized operations leave. */
interface Event {
  op: number;
  call: boolean;
  prev: Event | undefined;
  next: Event | undefined;
  /** The call's return event (calls only). */
  ret?: Event;
}

/**
 * Whether the history is linearizable with respect to the model.
 *
 * Porcupine's search, without recursion (histories of a soak hold tens of
 * thousands of operations): walk the time-ordered list of call and return
 * events; a call is tried next, and on success lifted out of the list with
 * its return; reaching the return of an operation not yet linearized means
 * backtracking. Only the calls before the first return are candidates, so a
 * step costs the number of concurrent operations, not the history's length.
 * The memo names a set of linearized operations by a 64-bit Zobrist hash
 * (a random pair of words per operation, XORed in and out): a collision
 * could only cut a search short and report a linearizable history as not
 * linearizable, never the reverse.
 */
export function isLinearizable<S, I, O>(model: Model<S, I, O>, ops: Op<I, O>[]): boolean {
  const n = ops.length;
  if (n === 0) return true;
  const head = eventList(ops);
  const zobrist = zobristWords(n);
  let h1 = 0, h2 = 0;
  const flip = (op: number) => {
    h1 ^= zobrist[2 * op];
    h2 ^= zobrist[2 * op + 1];
  };
  const seen = new Set<string>();
  const stack: { call: Event; state: S }[] = [];
  let state = model.init;
  let entry = head.next;
  while (entry) {
    const op = ops[entry.op];
    if (!entry.call) {
      // Returns are in time order and unknown outcomes return last: all
      // that is left may never have taken effect.
      if (op.ret === Infinity) return true;
      const top = stack.pop();
      if (!top) return false;
      flip(top.call.op);
      unlift(top.call);
      state = top.state;
      entry = top.call.next;
      continue;
    }
    const [ok, next] = model.step(state, op.input, op.output, op.ret !== Infinity);
    if (ok) {
      flip(entry.op);
      const key = `${h1}:${h2}|${model.key(next)}`;
      if (!seen.has(key)) {
        seen.add(key);
        stack.push({ call: entry, state });
        state = next;
        lift(entry);
        entry = head.next;
        continue;
      }
      flip(entry.op);
    }
    entry = entry.next;
  }
  return true;
}

/** Two random words per operation, from a fixed seed (xorshift32): the same history, the same search. */
function zobristWords(n: number): Uint32Array {
  const words = new Uint32Array(2 * n);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return words;
}

/** The call and return events of `ops` in time order (a call first at equal times), after a head. */
function eventList<I, O>(ops: Op<I, O>[]): Event {
  const events: Event[] = [];
  for (let op = 0; op < ops.length; op++) {
    const call: Event = { op, call: true, prev: undefined, next: undefined };
    call.ret = { op, call: false, prev: undefined, next: undefined };
    events.push(call, call.ret);
  }
  const time = (e: Event) => e.call ? ops[e.op].call : ops[e.op].ret;
  events.sort((a, b) => time(a) - time(b) || Number(b.call) - Number(a.call) || a.op - b.op);
  const head: Event = { op: -1, call: false, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    e.prev = last;
    last.next = e;
    last = e;
  }
  return head;
}

/** Takes a call and its return out of the list. */
function lift(call: Event): void {
  unlink(call);
  unlink(call.ret!);
}

/** Puts back what the last {@linkcode lift} took out (in reverse order). */
function unlift(call: Event): void {
  relink(call.ret!);
  relink(call);
}

function unlink(e: Event): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
}

/** Undoes {@linkcode unlink}: `e` still points at its old neighbours. */
function relink(e: Event): void {
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
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

/**
 * Checks a multi-key history by checking each key separately
 * (P-compositionality). Written values must be unique.
 */
export function checkKV(
  ops: (Op<["w", unknown] | ["r"], unknown> & { key: string })[],
): { ok: boolean; badKey?: string } {
  const byKey = new Map<string, Op<["w", unknown] | ["r"], unknown>[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, list = []);
    list.push(op);
  }
  for (const [key, all] of byKey) {
    // A write of unknown outcome that no read saw may as well never have
    // happened (written values are unique): dropping it changes no verdict
    // and spares the search every place it could have taken effect.
    const read = new Set(all.filter((o) => o.input[0] === "r").map((o) => o.output));
    const list = all.filter((o) =>
      o.ret !== Infinity || o.input[0] !== "w" || read.has(o.input[1])
    );
    list.sort((a, b) => a.call - b.call);
    if (!isLinearizable(registerModel, list)) return { ok: false, badKey: key };
  }
  return { ok: true };
}
