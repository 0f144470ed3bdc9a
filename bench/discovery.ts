/**
 * Discovery benchmarks: convergence time of 10, 25, 50 and 200 nodes in one
 * process (a fresh one per run; the median of 3-5 runs) that all bootstrap
 * from one node (goals: 50 nodes all see all in under 1 s, 200 in under
 * 3 s), each next to its anchor, the time the same number of bare endpoints
 * take to connect to one endpoint all at once (the handshake storm every
 * joiner's first contact costs); and payload messages per node per
 * announcement with Plumtree against naive flooding (every neighbour gets
 * every payload) in the same run.
 *
 * Run alone: `deno run -A bench/discovery.ts`
 *
 * @module
 */
import { tag } from "@mosaik/transport";
import { figure, percentile, report } from "./_report.ts";
import { closeAll, converge, type Node, until } from "./_discovery_nodes.ts";

const CHILD = new URL("./_discovery_child.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** Goals of convergence time by node count, in ms. */
const CONVERGENCE_GOALS: Record<number, number> = { 50: 1000, 200: 3000 };

/**
 * Runs per node count: one run of 50 nodes took 0.83-2.5 s on one machine in
 * one hour (docs/scale.md), so the figure is the median of several.
 */
const RUNS: Record<number, number> = { 10: 3, 25: 3, 50: 5, 200: 3 };

/** What one convergence run measured: anchor and convergence in ms, messages sent. */
interface Convergence {
  anchor: number;
  ms: number;
  msgs: number;
}

/** One convergence run of `n` nodes in a fresh process (see `_discovery_child.ts`). */
async function convergeApart(n: number): Promise<Convergence> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      "--allow-read",
      CHILD,
      `${n}`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`convergence of ${n} nodes failed`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  return { anchor: r.anchor, ms: r.ms ?? Infinity, msgs: r.msgs };
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
  for (const n of [10, 25, 50, 200]) {
    const runs: Convergence[] = [];
    for (let i = 0; i < RUNS[n]; i++) runs.push(await convergeApart(n));
    const median = (pick: (r: Convergence) => number) => percentile(runs.map(pick), 50);
    const goal = CONVERGENCE_GOALS[n];
    report(
      `convergence, ${n} nodes from one bootstrap`,
      median((r) => r.ms),
      median((r) => r.anchor),
      "ms",
      goal === undefined ? undefined : { max: goal },
    );
    figure(
      "",
      median((r) => r.msgs) / n,
      "msgs/node",
      `sent until all saw all (fresh process; median of ${runs.length} runs: ${
        runs.map((r) => Math.round(r.ms)).join(", ")
      } ms); anchor: ${n - 1} endpoints connecting to one at once`,
    );
  }
  const n = 25;
  const rounds = 10;
  const tree = await converge(n);
  if (tree.ms === Infinity) throw new Error(`${n} nodes did not converge within 30 s`);
  const ours = await perAnnouncement(tree.nodes, rounds);
  await closeAll(tree.nodes);
  const flood = await converge(n, { gossip: { mode: "flood" } });
  if (flood.ms === Infinity) throw new Error(`${n} flooding nodes did not converge within 30 s`);
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
