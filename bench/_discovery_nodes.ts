// Discovery nodes in one process for bench/discovery.ts and its child: start
// n nodes from one bootstrap, wait until all see all, close them.
import { Endpoint, type NetworkId, networkId } from "@mosaik/transport";
import { Discovery, type DiscoveryOptions } from "@mosaik/discovery";

/** One node: an endpoint and its discovery. */
export interface Node {
  endpoint: Endpoint;
  discovery: Discovery;
}

async function start(net: NetworkId, options: DiscoveryOptions): Promise<Node> {
  const endpoint = await Endpoint.create({ networkId: net });
  return { endpoint, discovery: await Discovery.create(endpoint, options) };
}

function allSeeAll(nodes: Node[]): boolean {
  return nodes.every((n) => n.discovery.catalog.size === nodes.length - 1);
}

/** Polls `condition` every 5 ms; whether it held before `timeout` ms. */
export async function until(condition: () => boolean, timeout: number): Promise<boolean> {
  const deadline = performance.now() + timeout;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** Closes every node's discovery and endpoint. */
export async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    await n.discovery.close();
    await n.endpoint.close();
  }));
}

/**
 * Starts `n` nodes bootstrapping from the first; returns them and the ms
 * until all see all (`Infinity` if they did not within `timeout`).
 */
export async function converge(
  n: number,
  options: DiscoveryOptions = {},
  timeout = 30_000,
): Promise<{ nodes: Node[]; ms: number }> {
  const net = networkId(crypto.randomUUID());
  const first = await start(net, options);
  const t0 = performance.now();
  const rest = await Promise.all(
    Array.from(
      { length: n - 1 },
      () => start(net, { ...options, bootstrap: [first.endpoint.address] }),
    ),
  );
  const nodes = [first, ...rest];
  const ok = await until(() => allSeeAll(nodes), timeout);
  return { nodes, ms: ok ? performance.now() - t0 : Infinity };
}

/** Ms until `n - 1` bare endpoints, dialing at once, are all connected to one endpoint. */
export async function connectStorm(n: number): Promise<number> {
  const net = networkId(crypto.randomUUID());
  const hub = await Endpoint.create({ networkId: net });
  const dialers = await Promise.all(
    Array.from({ length: n - 1 }, () => Endpoint.create({ networkId: net })),
  );
  const t0 = performance.now();
  await Promise.all(dialers.map((d) => d.connect(hub.peerId, [hub.hostPort])));
  const ms = performance.now() - t0;
  await Promise.all([hub, ...dialers].map((e) => e.close()));
  return ms;
}
