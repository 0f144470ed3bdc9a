// Groups fixtures on top of the shared harness (`_harness.ts`): joining the
// test counter.
import type { Group, GroupConfig, Storage } from "@mosaik/groups";
import { Counter, type CounterCommand } from "@mosaik/groups/testing";
import type { TestNode } from "./_harness.ts";

/** Joins the counter group `key` on `node`. */
export function joinCounter(
  node: TestNode,
  key: string,
  config: Partial<GroupConfig> = {},
  storage?: Storage,
  name?: string,
): Group<CounterCommand, number, unknown, number> {
  return node.groups.join({ key, stateMachine: new Counter(name), config, storage });
}
