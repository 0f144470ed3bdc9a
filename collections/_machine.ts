// The base of the six collection state machines (one file each). Pure and deterministic: every member
// applies the same commands in log order and ends with the same state, the
// same iteration order and the same results. Commands come from the log, so
// every apply validates its input and treats a malformed command as a no-op
// (it still consumes its log index); nothing here throws on bad input.
import type { StateMachine } from "@mosaik/groups";

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

/** Whether `x` is an {@linkcode Opt}. */
export function isOpt(x: unknown): x is Opt<unknown> {
  return Array.isArray(x) && x.length <= 1;
}
