// One convergence run of bench/discovery.ts in a fresh process: the anchor
// (n - 1 endpoints connecting to one at once), then n discovery nodes from one
// bootstrap. Prints one JSON line {anchor, ms, msgs} (ms is null when they did
// not converge within 120 s: a slow run still gets a figure) and exits
// without closing the nodes: the process ends them, and nothing of one run
// slows the next.
//
// Usage: _discovery_child.ts <n>
import { connectStorm, converge } from "./_discovery_nodes.ts";

const n = Number(Deno.args[0]);
const anchor = await connectStorm(n);
const { nodes, ms } = await converge(n, {}, 120_000);
const msgs = nodes.reduce(
  (s, x) => s + Object.values(x.discovery.stats.sent).reduce((a, b) => a + b, 0),
  0,
);
console.log(JSON.stringify({ anchor, ms: Number.isFinite(ms) ? ms : null, msgs }));
Deno.exit(0);
