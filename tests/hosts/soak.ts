/**
 * `deno task soak [seconds] [hosts]`: a long run of many hosts (default 20
 * for 300 s) with churn: every few seconds one host (never one of the first
 * three, which keep the group's quorum) leaves gracefully or is killed, and
 * comes back on its disk a few seconds later, while every host keeps writing
 * the group and a SharedMap and consuming a stream. Prints each node's RSS
 * over time and ends with the checks of the faults suite: the group history
 * linearizable, every acknowledged map write present, no tick twice. Exits
 * non-zero when a check fails. Needs root; says why and does nothing
 * otherwise.
 *
 * @module
 */
import { Lab, labSupport } from "./lab.ts";
import { FaultCluster, type Member } from "./_fault_cluster.ts";

const seconds = Number(Deno.args[0] ?? 300);
const size = Math.max(5, Number(Deno.args[1] ?? 20));
const support = labSupport();
if (!support.ok) {
  console.log(`soak: skipped: ${support.reason}`);
  Deno.exit(0);
}

const MiB = 2 ** 20;
await using lab = await Lab.create();
const root = await Deno.makeTempDir({ prefix: "mosaik-soak-" });
const cluster = new FaultCluster(lab);
const members: Member[] = [];
let failed = false;
try {
  for (let i = 0; i < size; i++) {
    const host = await lab.host(`s${i}`);
    const bootstrap = members.slice(0, 3).map((m) => m.address);
    members.push(await cluster.start(host, `${root}/s${i}`, bootstrap, { producer: i === 1 }));
  }
  await cluster.progress(30, "formation", 120_000);
  console.log(`soak: ${size} hosts up, group committing; churn for ${seconds} s`);

  const start = Date.now();
  let churns = 0;
  let kills = 0;
  let lastReport = start;
  while (Date.now() - start < seconds * 1000) {
    const i = 3 + Math.floor(Math.random() * (size - 3));
    const m = members[i];
    if (Math.random() < 0.5) {
      await m.process.kill();
      kills++;
    } else await m.process.stop();
    await new Promise((r) => setTimeout(r, 2000 + Math.random() * 3000));
    members[i] = await cluster.start(m.host, m.dir, members.slice(0, 3).map((x) => x.address));
    churns++;
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      const rss = members.map((x) => {
        const samples = x.process.lines.filter((l) => typeof l.rss === "number");
        return samples.length ? (samples.at(-1)!.rss as number) / MiB : 0;
      });
      console.log(
        `soak: ${
          Math.round((Date.now() - start) / 1000)
        } s, ${churns} restarts (${kills} kill -9), ` +
          `${cluster.acked()} acknowledged, RSS MiB min/max ${Math.min(...rss).toFixed(0)}/${
            Math.max(...rss).toFixed(0)
          }`,
      );
    }
  }
  await cluster.progress(20, "the end of the churn", 60_000);

  const peak = Math.max(
    ...cluster.printed.flat().filter((l) => typeof l.rss === "number").map((l) => l.rss as number),
  ) / MiB;
  const map = await cluster.lostMapWrites(members[0].process);
  const ticks = await cluster.ticks(members[2].process);
  await Promise.all(members.map((m) => m.process.stop()));
  for (const [i, m] of members.entries()) {
    const rss = m.process.lines.filter((l) => typeof l.rss === "number")
      .map((l) => Math.round((l.rss as number) / MiB));
    console.log(`soak: s${i} RSS MiB over time: ${rss.join(" ")}`);
  }
  const verdict = await cluster.linearizable();
  console.log(
    `soak: ${churns} restarts (${kills} kill -9) in ${seconds} s on ${size} hosts; ` +
      `${verdict.operations} group operations, linearizable: ${verdict.ok}; ` +
      `${map.acknowledged} acknowledged map writes, ${map.lost.length} lost; ` +
      `ticks ${JSON.stringify(ticks)}; peak RSS of a node ${peak.toFixed(0)} MiB`,
  );
  if (!verdict.ok) console.log(`soak: ${verdict.detail}`);
  failed = !verdict.ok || map.lost.length > 0 || ticks.duplicates > 0 ||
    ticks.missed !== ticks.skipped;
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
if (failed) Deno.exit(1);
