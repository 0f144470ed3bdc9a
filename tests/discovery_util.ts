// Helpers shared by the discovery suites: start nodes on loopback, close them.
import { Endpoint, type NetworkId, networkId } from "@mosaik/transport";
import { Discovery, type DiscoveryOptions } from "@mosaik/discovery";

/** One test node: an endpoint with discovery on it. */
export interface Node {
  endpoint: Endpoint;
  discovery: Discovery;
  close(): Promise<void>;
}

/** Starts a node on 127.0.0.1. */
export async function startNode(net: NetworkId, options: DiscoveryOptions = {}): Promise<Node> {
  const endpoint = await Endpoint.create({ networkId: net });
  const discovery = await Discovery.create(endpoint, options);
  let closed = false;
  return {
    endpoint,
    discovery,
    async close() {
      if (closed) return;
      closed = true;
      await discovery.close();
      await endpoint.close();
    },
  };
}

/** A fresh random network id. */
export function freshNetwork(): NetworkId {
  return networkId(crypto.randomUUID());
}

/** Closes every node (in parallel). */
export async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

/** Whether every node's catalog holds every other node. */
export function allSeeAll(nodes: Node[]): boolean {
  return nodes.every((n) =>
    nodes.every((m) => m === n || n.discovery.catalog.get(m.endpoint.peerId) !== undefined)
  );
}

/** Syncs catalogs for every ordered pair (the Rust suite's `discover_all`). */
export async function discoverAll(nodes: Node[]): Promise<PromiseSettledResult<void>[]> {
  const tasks: Promise<void>[] = [];
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) tasks.push(a.discovery.syncWith(b.endpoint.address));
  }
  return await Promise.allSettled(tasks);
}
