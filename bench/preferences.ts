/**
 * Preferences benchmarks: the cost of one coordinate update per RTT sample
 * (anchor: the RFC 6298 smoothing every sample already pays), the prediction
 * error of coordinates on the 12-host delay matrix (in process with ±2 ms
 * noise, and for real behind the delay switch when this machine can build
 * it: root and /dev/net/tun), and the time a consumer takes to move to a
 * newly nearer producer behind the switch.
 *
 * Run alone: `deno run -A bench/preferences.ts`
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import { distance, Vivaldi } from "@mosaik/discovery";
import { RttEstimator } from "../discovery/_rtt.ts";
import { delaySwitchSupport } from "../tests/hosts/delay_switch.ts";
import {
  consumerMove,
  coordinateErrors,
  delayMatrix,
  quantile,
} from "../tests/hosts/preferences.ts";
import { figure, report } from "./_report.ts";

function perSample(samples: number, fn: (i: number) => void): number {
  for (let i = 0; i < 10_000; i++) fn(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < samples; i++) fn(i);
  return (performance.now() - t0) * 1000 / samples;
}

function updateCost(): void {
  const peers = Array.from({ length: 64 }, () => ({
    vec: Array.from({ length: 8 }, () => Math.random() * 100 - 50),
    error: 0.5,
    adjustment: 0,
    height: 1,
  }));
  const ids = peers.map((_, i) => `peer${i}`);
  const vivaldi = new Vivaldi();
  const rtts = new RttEstimator();
  const n = 200_000;
  const ours = perSample(n, (i) => vivaldi.update(ids[i & 63], peers[i & 63], 20 + (i % 50)));
  const anchor = perSample(n, (i) => rtts.record(ids[i & 63] as PeerId, 20 + (i % 50)));
  report("coordinate update per RTT sample", ours, anchor, "µs");
}

/** Vivaldi alone on the 12-host matrix: 30 rounds of 7 samples per node, ±2 ms noise. */
function simulatedError(): void {
  const matrix = delayMatrix();
  const nodes = matrix.map(() => new Vivaldi());
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < nodes.length; i++) {
      for (let k = 0; k < 7; k++) {
        const j = Math.floor(Math.random() * nodes.length);
        if (j === i) continue;
        const rtt = 2 * matrix[i][j] + (Math.random() * 4 - 2);
        nodes[i].update(`${j}`, nodes[j].coordinate, Math.max(0, rtt));
      }
    }
  }
  const errors: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = 0; j < nodes.length; j++) {
      if (i === j) continue;
      const truth = 2 * matrix[i][j];
      errors.push(Math.abs(distance(nodes[i].coordinate, nodes[j].coordinate) - truth) / truth);
    }
  }
  figure("prediction error, simulated, median", quantile(errors, 0.5), "", "(relative)");
  figure("prediction error, simulated, p90", quantile(errors, 0.9), "", "(relative)");
}

/** Runs the preferences benchmarks and prints the figures. */
export async function run(): Promise<void> {
  console.log("## preferences");
  updateCost();
  simulatedError();
  const support = delaySwitchSupport();
  if (!support.ok) {
    console.log(`delay switch figures skipped: ${support.reason}`);
    return;
  }
  const errors = await coordinateErrors(60);
  figure(
    "prediction error, 12 hosts on the switch, median",
    quantile(errors, 0.5),
    "",
    "(relative)",
  );
  figure("prediction error, 12 hosts on the switch, p90", quantile(errors, 0.9), "", "(relative)");
  figure("consumer moves to a newly nearer producer", await consumerMove(), "ms");
}

if (import.meta.main) await run();
