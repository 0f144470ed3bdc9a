// The one harness of the multi-node suites: real nodes on loopback, either
// whole `Network`s that found each other through gossip, or bare
// endpoint + discovery (+ groups) nodes for suites that drive discovery by
// hand. Every wait is bounded and scaled by TIME_FACTOR.
import { Endpoint, type NetworkId, networkId, type SecretKey } from "@mosaik/transport";
import { within } from "@mosaik/transport/testing";
import { Discovery, type DiscoveryOptions } from "@mosaik/discovery";
import { Groups } from "@mosaik/groups";
import { Network, type NetworkOptions } from "@mosaik/network";

/** Options every test node on this machine uses: loopback only, no mDNS, no DHT. */
export const LOCAL: NetworkOptions = { listen: "127.0.0.1:0", mdns: false, dht: false };

/** A fresh name (a network name or a store/group key) no other test uses. */
export function freshName(): string {
  return crypto.randomUUID();
}

/** A fresh random network id. */
export function freshNetwork(): NetworkId {
  return networkId(freshName());
}

/** Nodes that close together with `await using`. */
export type Nodes<T extends { close(): Promise<void> }> = T[] & AsyncDisposable;

function disposable<T extends { close(): Promise<void> }>(nodes: T[]): Nodes<T> {
  return Object.assign(nodes, { [Symbol.asyncDispose]: () => closeAll(nodes) });
}

/** Closes every node (in parallel). */
export async function closeAll(nodes: readonly { close(): Promise<void> }[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

/** Options of {@linkcode startNetworks}. */
export interface StartNetworksOptions {
  /** The network name; default a fresh one. */
  name?: string;
  /** Tag names per node (index i for node i). */
  tags?: string[][];
  /** Extra `Network.create` options for every node (on top of {@linkcode LOCAL}). */
  options?: NetworkOptions;
}

/**
 * `n` `Network` nodes of one network, each bootstrapped from the first;
 * resolves once every node's catalog holds every other node.
 */
export async function startNetworks(
  n: number,
  options: StartNetworksOptions = {},
): Promise<Nodes<Network>> {
  const name = options.name ?? freshName();
  const create = (i: number, bootstrap: string[]) =>
    Network.create(name, {
      ...LOCAL,
      ...options.options,
      tags: options.tags?.[i] ?? [],
      bootstrap,
    });
  const first = await create(0, []);
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, (_, i) => create(i + 1, [first.local.address])),
  );
  const nodes = disposable([first, ...rest]);
  try {
    await within(
      Promise.all(nodes.map((x) => x.discovery.when.peers({ minimum: n - 1 }))),
      10_000,
      `${n} nodes discover each other`,
    );
  } catch (error) {
    await closeAll(nodes);
    throw error;
  }
  return nodes;
}

/** A bare test node: an endpoint with discovery and groups on it, and no gossip partner yet. */
export interface TestNode {
  /** The QUIC endpoint. */
  endpoint: Endpoint;
  /** Discovery on the endpoint. */
  discovery: Discovery;
  /** Groups on the endpoint and discovery. */
  groups: Groups;
  /** Closes groups, discovery and endpoint (once). */
  close(): Promise<void>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  /** The node's key; default a fresh one. */
  secretKey?: SecretKey;
  /** The UDP port on 127.0.0.1; default any. */
  port?: number;
  /** Discovery options. */
  discovery?: DiscoveryOptions;
}

/** Starts a bare node on 127.0.0.1 that knows nobody yet. */
export async function startNode(
  net: NetworkId,
  options: StartNodeOptions = {},
): Promise<TestNode> {
  const endpoint = await Endpoint.create({
    networkId: net,
    secretKey: options.secretKey,
    port: options.port,
  });
  const discovery = await Discovery.create(endpoint, options.discovery);
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

/** `n` bare nodes of one network (see {@linkcode startNode}); they know nobody yet. */
export async function startNodes(
  n: number,
  net: NetworkId = freshNetwork(),
  options: StartNodeOptions = {},
): Promise<Nodes<TestNode>> {
  return disposable(await Promise.all(Array.from({ length: n }, () => startNode(net, options))));
}

/**
 * Syncs catalogs for every ordered pair of nodes (the Rust suite's
 * `discover_all`) and returns each sync's outcome, in pair order. Unless
 * `allowFailures` is set, a failed sync fails the call.
 */
export async function discoverAll(
  nodes: readonly Pick<TestNode, "endpoint" | "discovery">[],
  options: { allowFailures?: boolean } = {},
): Promise<PromiseSettledResult<void>[]> {
  const tasks: Promise<void>[] = [];
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) tasks.push(a.discovery.syncWith(b.endpoint.address));
  }
  const results = await within(Promise.allSettled(tasks), 10_000, "catalog syncs");
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length && !options.allowFailures) {
    throw new AggregateError(failed.map((r) => r.reason), `${failed.length} catalog syncs failed`);
  }
  return results;
}

/** Whether every node's catalog holds every other node. */
export function allSeeAll(nodes: readonly Pick<TestNode, "endpoint" | "discovery">[]): boolean {
  return nodes.every((n) =>
    nodes.every((m) => m === n || n.discovery.catalog.get(m.endpoint.peerId) !== undefined)
  );
}

/**
 * Runs independent scenarios concurrently as steps of `t`; they share the
 * suite's nodes, so it pays for node start-up once.
 */
export async function scenarios(
  t: Deno.TestContext,
  cases: Record<string, () => Promise<void>>,
): Promise<void> {
  const results = await Promise.all(
    Object.entries(cases).map(([name, fn]) =>
      t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false })
    ),
  );
  if (results.some((ok) => !ok)) throw new Error("a scenario failed");
}
