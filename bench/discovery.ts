/**
 * Discovery benchmarks: convergence time of 10, 25 and 50 nodes in one
 * process that all bootstrap from one node (goal: 50 nodes all see all in
 * under 3 s), and payload messages per node per announcement with Plumtree
 * against naive flooding (every neighbour gets every payload) in the same run.
 *
 * Run alone: `deno run -A bench/discovery.ts`
 *
 * @module
 */
import { Endpoint, type NetworkId, networkId, tag } from "@mosaik/transport";
import { Discovery, type DiscoveryOptions } from "@mosaik/discovery";
import { figure, report } from "./_report.ts";

interface Node {
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

async function until(condition: () => boolean, timeout: number): Promise<boolean> {
  const deadline = performance.now() + timeout;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    await n.discovery.close();
    await n.endpoint.close();
  }));
}

/** Starts `n` nodes bootstrapping from the first; returns them and the ms until all see all. */
async function converge(
  n: number,
  options: DiscoveryOptions = {},
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
  const ok = await until(() => allSeeAll(nodes), 30_000);
  const ms = performance.now() - t0;
  if (!ok) {
    await closeAll(nodes);
    throw new Error(`${n} nodes did not converge within 30 s`);
  }
  return { nodes, ms };
}

const sum = (nodes: Node[], kind: string) =>
  nodes.reduce((s, n) => s + (n.discovery.stats.sent[kind] ?? 0), 0);

/**
 * Payload messages and gossip bytes per node per announcement, over `rounds`
 * tag changes after 3 warm-up ones.
 */
async function perAnnouncement(
  nodes: Node[],
  rounds: number,
): Promise<{ msgs: number; ihave: number; bytes: number }> {
  const change = async (k: number) => {
    const origin = nodes[(k * 7) % nodes.length];
    const t = tag(`bench-${k}`);
    origin.discovery.local.addTags(t);
    const ok = await until(
      () =>
        nodes.every((n) =>
          n === origin || n.discovery.catalog.get(origin.endpoint.peerId)?.tags.includes(t)
        ),
      10_000,
    );
    if (!ok) throw new Error(`announcement ${k} did not reach every node`);
  };
  for (let k = 0; k < 3; k++) await change(k);
  const bytes = () => nodes.reduce((s, n) => s + n.discovery.stats.gossipBytesSent, 0);
  const before = sum(nodes, "gossip");
  const i0 = sum(nodes, "ihave");
  const b0 = bytes();
  for (let k = 3; k < 3 + rounds; k++) await change(k);
  return {
    msgs: (sum(nodes, "gossip") - before) / rounds / nodes.length,
    ihave: (sum(nodes, "ihave") - i0) / rounds / nodes.length,
    bytes: (bytes() - b0) / rounds / nodes.length,
  };
}

/** Runs the discovery benchmarks and prints the figures. */
export async function run(): Promise<void> {
  console.log("## discovery (one process, real QUIC on loopback)");
  for (const n of [10, 25, 50]) {
    const { nodes, ms } = await converge(n);
    const msgs = nodes.reduce(
      (s, x) => s + Object.values(x.discovery.stats.sent).reduce((a, b) => a + b, 0),
      0,
    );
    figure(
      `convergence, ${n} nodes from one bootstrap`,
      ms,
      "ms",
      `${(msgs / n).toFixed(0)} messages sent per node` +
        (n === 50 ? `  goal < 3000 ms ${ms < 3000 ? "met" : "MISSED"}` : ""),
    );
    await closeAll(nodes);
  }
  const n = 25;
  const rounds = 10;
  const tree = await converge(n);
  const ours = await perAnnouncement(tree.nodes, rounds);
  await closeAll(tree.nodes);
  const flood = await converge(n, { gossip: { mode: "flood" } });
  const anchor = await perAnnouncement(flood.nodes, rounds);
  await closeAll(flood.nodes);
  report(`payload msgs/node/announcement, ${n} nodes`, ours.msgs, anchor.msgs, "msgs", {
    ratio: 0.5,
    higherIsBetter: false,
  });
  report(`gossip bytes/node/announcement, ${n} nodes`, ours.bytes, anchor.bytes, "B", {
    ratio: 0.6,
    higherIsBetter: false,
  });
  figure(
    "  optimum (one payload per node reached)",
    (n - 1) / n,
    "msgs",
    `anchor: naive flooding; plumtree also sent ${ours.ihave.toFixed(2)} IHAVE notices/node`,
  );
}

if (import.meta.main) await run();
