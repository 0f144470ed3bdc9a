// Discovery nodes in one process for bench/discovery.ts and its child: start
// n nodes from one bootstrap, wait until all see all, close them.
import { Endpoint, networkId } from "@mosaik/transport";
import { Discovery, type DiscoveryOptions } from "@mosaik/discovery";

/** One node: an endpoint and its discovery. */
export interface Node {
  endpoint: Endpoint;
  discovery: Discovery;
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
 * until all see all (`Infinity` if they did not within `timeout`). The clock
 * starts once every endpoint is bound, when discovery starts on all of them
 * at once (as {@linkcode connectStorm} binds its dialers before timing them):
 * it measures discovery, not key generation and socket set-up.
 */
export async function converge(
  n: number,
  options: DiscoveryOptions = {},
  timeout = 30_000,
): Promise<{ nodes: Node[]; ms: number }> {
  const net = networkId(crypto.randomUUID());
  const endpoints = await Promise.all(
    Array.from({ length: n }, () => Endpoint.create({ networkId: net })),
  );
  const t0 = performance.now();
  const first = endpoints[0];
  const bootstrap = [first.address];
  const nodes = await Promise.all(endpoints.map(async (endpoint) => ({
    endpoint,
    discovery: await Discovery.create(
      endpoint,
      endpoint === first ? options : { ...options, bootstrap },
    ),
  })));
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
