// Nightly-size linearizability run of @mosaik/groups' consensus core:
//   deno run -A tests/groups_nightly.ts [runs=250] [firstSeed=1]
// Each seed is a simulated cluster (3 or 5 members) under crashes, restarts,
// partitions and leader isolation with concurrent clients; a failing seed
// replays deterministically with `deno run -A tests/groups_nightly.ts 1 <seed>`.
// Even seeds also remove absent members after a short grace period.
import { runChaos } from "@mosaik/groups/testing";

const runs = Number(Deno.args[0] ?? 250);
const first = Number(Deno.args[1] ?? 1);
let failed = 0;
let ops = 0;
const t0 = performance.now();
for (let seed = first; seed < first + runs; seed++) {
  // Every other seed also removes absent members after a short grace period.
  const r = await runChaos(seed, { duration: 20_000, graceTicks: seed % 2 ? undefined : 60 });
  ops += r.ops;
  if (r.anomalies.length) {
    failed++;
    console.log(`seed ${seed}: ${r.anomalies.join("; ")}\n  faults: ${r.faults.join(", ")}`);
  }
}
console.log(
  `${runs} seeded runs, ${ops} operations, ${failed} with anomalies, ${
    Math.round(performance.now() - t0)
  } ms`,
);
if (failed) Deno.exit(1);
