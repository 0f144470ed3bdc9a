/**
 * The replicated state machine contract.
 *
 * @module
 */

/** What `apply` learns about the entry it applies; identical on every member. */
export interface ApplyContext {
  /** Log index of the entry. */
  index: number;
  /** Term of the entry. */
  term: number;
  /** Position of the command within its entry (commands of one entry share the index). */
  offset: number;
}

/**
 * A deterministic state machine replicated by a group. Commands, queries,
 * results and snapshots must be MessagePack-encodable.
 *
 * @example
 * ```ts
 * import type { StateMachine } from "@mosaik/groups";
 * class Counter implements StateMachine<{ add: number }, number, "value", number, number> {
 *   readonly name = "counter/v1";
 *   value = 0;
 *   apply(cmd: { add: number }): number {
 *     return (this.value += cmd.add);
 *   }
 *   query(): number {
 *     return this.value;
 *   }
 *   snapshot(): number {
 *     return this.value;
 *   }
 *   restore(s: number): void {
 *     this.value = s;
 *   }
 * }
 * ```
 */
export interface StateMachine<C = unknown, R = unknown, Q = unknown, QR = unknown, S = unknown> {
  /** Type and version of the machine (part of the GroupId), e.g. "counter/v1". */
  readonly name: string;
  /** Applies a committed command; called once per command, in log order, on every member. */
  apply(command: C, ctx: ApplyContext): R;
  /** Answers a read-only query from the current state. */
  query(query: Q): QR;
  /** Serializable copy of the state. */
  snapshot(): S;
  /** Replaces the state with a snapshot. */
  restore(snapshot: S): void;
}
