// Shared fixtures of the groups acceptance suites: real QUIC endpoints, real
// discovery, a Counter state machine, and discover_all.
import { Endpoint, type NetworkId, networkId, type SecretKey } from "@mosaik/transport";
import { Discovery } from "@mosaik/discovery";
import { type Group, type GroupConfig, Groups, type Storage } from "@mosaik/groups";

/** Commands of the test counter. */
export type CounterCmd = { inc: number } | { dec: number };

/** The counter fixture of the Rust suite (Increment / Decrement, value query). */
export class Counter {
  readonly name: string;
  value = 0;
  constructor(name = "counter/v1") {
    this.name = name;
  }
  apply(cmd: CounterCmd): number {
    this.value += "inc" in cmd ? cmd.inc : -cmd.dec;
    return this.value;
  }
  query(_q?: unknown): number {
    return this.value;
  }
  snapshot(): number {
    return this.value;
  }
  restore(s: number): void {
    this.value = s;
  }
}

/** One test node. */
export interface TestNode {
  endpoint: Endpoint;
  discovery: Discovery;
  groups: Groups;
  close(): Promise<void>;
}

/** A fresh random network id. */
export function testNetwork(): NetworkId {
  return networkId(crypto.randomUUID());
}

/** Starts a node (endpoint + discovery + groups) that knows nobody yet. */
export async function startNode(
  net: NetworkId,
  options: { secretKey?: SecretKey; port?: number } = {},
): Promise<TestNode> {
  const endpoint = await Endpoint.create({ networkId: net, ...options });
  const discovery = await Discovery.create(endpoint);
  const groups = new Groups(endpoint, discovery);
  let closed = false;
  return {
    endpoint,
    discovery,
    groups,
    async close() {
      if (closed) return;
      closed = true;
      await groups.close();
      await discovery.close();
      await endpoint.close();
    },
  };
}

/** Every node syncs its catalog with every other node. */
export async function discoverAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => a.discovery.syncWith(b.endpoint.address))
    ),
  );
}

/** Joins the counter group `key` on `node`. */
export function joinCounter(
  node: TestNode,
  key: string,
  config: Partial<GroupConfig> = {},
  storage?: Storage,
  name?: string,
): Group<CounterCmd, number, unknown, number> {
  return node.groups.join({ key, stateMachine: new Counter(name), config, storage });
}

/** Commands of the test key-value store. */
export type KVCmd = ["put", string, string];

/** A key-value store fixture for linearizability runs. */
export class KVStore {
  readonly name = "kv/v1";
  data = new Map<string, string>();
  apply(cmd: KVCmd): string {
    this.data.set(cmd[1], cmd[2]);
    return cmd[2];
  }
  query(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  snapshot(): [string, string][] {
    return [...this.data];
  }
  restore(s: [string, string][]): void {
    this.data = new Map(s);
  }
}
