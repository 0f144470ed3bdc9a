/**
 * Test tools of `@mosaik/groups`: state machines for tests ({@linkcode Counter},
 * {@linkcode KVStore}), a linearizability checker (Wing–Gong with
 * memoization, per-key P-compositionality) and seeded chaos runs of the
 * consensus core over a simulated network.
 *
 * @example
 * ```ts
 * import { checkKV } from "@mosaik/groups/testing";
 * const ok = checkKV([
 *   { key: "a", call: 0, ret: 1, input: ["w", 1] },
 *   { key: "a", call: 2, ret: 3, input: ["r"], output: 1 },
 * ]);
 * console.assert(ok.ok);
 * ```
 *
 * @module
 */
export { checkKV, isLinearizable, type Model, type Op, registerModel } from "./_linearizability.ts";
export {
  type ChaosOptions,
  type ChaosResult,
  type Faults,
  HARSH_FAULTS,
  MILD_FAULTS,
  runChaos,
} from "./_chaos.ts";
export type { Storage } from "./storage.ts";
export { Counter, type CounterCommand, type KVCommand, KVStore } from "./test_machines.ts";
