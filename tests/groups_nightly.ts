// Nightly-size linearizability run of @mosaik/groups' consensus core:
//   deno task nightly [runs=250] [firstSeed=1] [--faults=harsh|mild|mild,diskLoss...] [--verbose]
// Each seed is a simulated cluster (3 or 5 members, up to 2 joining later)
// under the fault model of groups/_chaos.ts with concurrent clients; the
// history goes through the linearizability checker. A failing seed replays
// deterministically: `deno task nightly 1 <seed> --verbose` prints its faults.
// Even seeds also remove absent members after a short grace period.
import { type Faults, HARSH_FAULTS, MILD_FAULTS, runChaos } from "@mosaik/groups/testing";

const flags = Deno.args.filter((a) => a.startsWith("--"));
const [runs, first] = Deno.args.filter((a) => !a.startsWith("--")).map(Number);
const faultsFlag = flags.find((f) => f.startsWith("--faults="))?.slice(9) ?? "harsh";
const verbose = flags.includes("--verbose");

function parseFaults(text: string): Faults {
  const presets: Record<string, Faults> = {
    mild: MILD_FAULTS,
    harsh: HARSH_FAULTS,
  };
  const faults = { ...MILD_FAULTS };
  for (const name of text.split(",")) {
    if (presets[name]) Object.assign(faults, presets[name]);
    else if (name in faults) faults[name as keyof Faults] = true;
    else throw new Error(`unknown fault "${name}"; known: ${Object.keys(faults)}`);
  }
  return faults;
}

const faults = parseFaults(faultsFlag);
const count = runs || 250;
const from = first || 1;
const failing: number[] = [];
let ops = 0;
let acknowledged = 0;
let events = 0;
const t0 = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const r = await runChaos(seed, {
    duration: 20_000,
    graceTicks: seed % 2 ? undefined : 60,
    faults,
  });
  ops += r.ops;
  acknowledged += r.acknowledged;
  events += r.faults.length;
  if (r.anomalies.length) {
    failing.push(seed);
    console.log(`seed ${seed}: ${r.anomalies.slice(0, 3).join("; ")}`);
  }
  if (verbose) console.log(`seed ${seed} faults:\n  ${r.faults.join("\n  ")}`);
}
const on = Object.entries(faults).filter(([, v]) => v).map(([k]) => k);
console.log(
  `faults: crashes, restarts, partitions, drops${on.length ? `, ${on.join(", ")}` : ""}\n` +
    `${count} seeded runs (seeds ${from}..${from + count - 1}), ${ops} operations ` +
    `(${acknowledged} answered), ${events} fault events, ${failing.length} with anomalies` +
    `${failing.length ? ` (seeds ${failing.join(", ")})` : ""}, ${
      Math.round(performance.now() - t0)
    } ms`,
);
if (failing.length) Deno.exit(1);
