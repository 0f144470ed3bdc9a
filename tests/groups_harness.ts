// Groups fixtures on top of the shared harness (`_harness.ts`): joining the
// test counter.
import type { Group, GroupConfig, Storage } from "@mosaik/groups";
import { Counter, type CounterCommand } from "@mosaik/groups/testing";
import type { TestNode } from "./_harness.ts";

/**
 * Options of a member that joins a group formed before it: it would form one
 * only with three blank members, which these tests never start together.
 */
export const JOINER: Partial<GroupConfig> = { bootstrapExpect: 3 };

/**
 * Joins the counter group `key` on `node`; by default as a single-node
 * bootstrap (`bootstrapExpect: 1`), pass {@linkcode JOINER} to join a formed group.
 */
export function joinCounter(
  node: TestNode,
  key: string,
  config: Partial<GroupConfig> = {},
  storage?: Storage,
  name?: string,
): Group<CounterCommand, number, unknown, number> {
  return node.groups.join({
    key,
    stateMachine: new Counter(name),
    config: { bootstrapExpect: 1, ...config },
    storage,
  });
}
