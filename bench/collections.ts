/**
 * Collections benchmark: SharedMap writes with three writers on three nodes
 * (real QUIC on loopback) against the raw `group.execute` rate of a trivial
 * counter group measured in the same run on the same nodes, plus single-
 * writer latency and the catch-up time of a late reader (of a 100k-entry
 * map, pulling the snapshot from three members vs from the leader alone).
 *
 * `deno run -A bench/collections.ts`
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { SharedMap } from "@mosaik/collections";
import { Counter } from "@mosaik/groups/testing";
import { percentile, report } from "./_report.ts";

/** Runs `op(i)` for i < total with `concurrency` in flight; returns ops/s and latencies. */
async function drive(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ perSecond: number; p50: number }> {
  let next = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const s = performance.now();
      await op(i);
      lat.push(performance.now() - s);
    }
  }));
  return { perSecond: total / ((performance.now() - t0) / 1000), p50: percentile(lat, 50) };
}

async function startNodes(n: number): Promise<Network[]> {
  const name = crypto.randomUUID();
  const first = await Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: false });
  const rest = await Promise.all(Array.from({ length: n - 1 }, () =>
    Network.create(name, {
      listen: "127.0.0.1:0",
      mdns: false,
      dht: false,
      bootstrap: [first.local.address],
    })));
  const nodes = [first, ...rest];
  await Promise.all(nodes.map((x) => x.discovery.when.peers({ minimum: n - 1 })));
  return nodes;
}

/** Prints every figure with its anchor. */
export async function run(): Promise<void> {
  console.log("## collections (3 nodes, QUIC on loopback)");
  const nodes = await startNodes(3);
  try {
    const key = crypto.randomUUID();
    const groups = nodes.map((n) =>
      n.groups.join({
        key,
        stateMachine: new Counter("bench-counter/v1"),
        config: { bootstrapExpect: nodes.length },
      })
    );
    await Promise.all(groups.map((g) => g.when.online()));
    const name = crypto.randomUUID();
    const writers = nodes.map((n) => SharedMap.writer<number, number>(n, name, { writers: 3 }));
    await Promise.all(writers.map((w) => w.when.online()));

    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    for (const [total, concurrency] of [[3000, 64], [400, 1]]) {
      // warm-up, then three alternating rounds of anchor and measurement
      await drive(300, concurrency, (i) => groups[i % 3].execute({ add: 1 }));
      await drive(300, concurrency, (i) => writers[i % 3].insert(-i - 1, i));
      const raw: { perSecond: number; p50: number }[] = [];
      const map: { perSecond: number; p50: number }[] = [];
      for (let round = 0; round < 3; round++) {
        raw.push(await drive(total, concurrency, (i) => groups[i % 3].execute({ add: 1 })));
        map.push(await drive(total, concurrency, (i) => writers[i % 3].insert(i, i)));
      }
      report(
        `map insert, 3 writers, c=${concurrency} vs group.execute`,
        median(map.map((x) => x.perSecond)),
        median(raw.map((x) => x.perSecond)),
        "writes/s",
        { ratio: 0.8, higherIsBetter: true },
      );
      report(
        `  p50 latency, c=${concurrency}`,
        median(map.map((x) => x.p50)),
        median(raw.map((x) => x.p50)),
        "ms",
      );
    }

    // Local reads: SharedMap.get on a reader vs a plain JS Map.get, same keys.
    const plain = new Map<number, number>(writers[0].entries());
    const reader = SharedMap.reader<number, number>(nodes[2], name);
    const reads = 1_000_000;
    const size = plain.size;
    let sink = 0;
    let t = performance.now();
    for (let i = 0; i < reads; i++) sink += plain.get(i % size) ?? 0;
    const plainRate = reads / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < reads; i++) sink += reader.get(i % size) ?? 0;
    const ourRate = reads / ((performance.now() - t) / 1000);
    if (sink === -1) console.log(sink);
    report("local map reads vs plain JS Map.get", ourRate, plainRate, "reads/s");
    await reader.close();

    // Late reader catch-up (by snapshot) of a 20 000-entry map vs a late
    // reader of an empty map (joining alone), both measured here.
    const catchUp = async (entries: number) => {
      const name = crypto.randomUUID();
      const w = SharedMap.writer<number, number>(nodes[0], name, { snapshotEvery: 10 });
      await w.when.online();
      for (let i = 0; i < entries; i += 1000) {
        await w.extend(Array.from({ length: 1000 }, (_, j) => [i + j, i + j] as const));
      }
      const t = performance.now();
      const r = SharedMap.reader<number, number>(nodes[1], name, { snapshotEvery: 10 });
      await r.when.online();
      await r.when.reaches(w.version);
      const ms = performance.now() - t;
      if (r.size !== entries) throw new Error(`caught up ${r.size} of ${entries}`);
      await Promise.all([w.close(), r.close()]);
      return ms;
    };
    await catchUp(0);
    const empty = await catchUp(0);
    const full = await catchUp(20_000);
    report("late reader online+caught up, 20k entries vs 0", full, empty, "ms");
    await Promise.all(writers.map((h) => h.close()));
    await Promise.all(groups.map((g) => g.close()));
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
  await lateReaderSources();
}

/**
 * A reader joining a 100 000-entry map (by snapshot) held by a writer and
 * two up-to-date readers: pulling the snapshot's pieces from all three at
 * once vs from the leader alone (`catchUpGap: 0`), alternating rounds on
 * fresh maps.
 */
async function lateReaderSources(): Promise<void> {
  const nodes = await startNodes(4);
  const entries = 100_000;
  try {
    const join = async (multi: boolean) => {
      const name = crypto.randomUUID();
      const options = { snapshotEvery: 10 };
      const w = SharedMap.writer<number, number>(nodes[0], name, options);
      await w.when.online();
      for (let i = 0; i < entries; i += 1000) {
        await w.extend(Array.from({ length: 1000 }, (_, j) => [i + j, i + j] as const));
      }
      const peers = [nodes[2], nodes[3]].map((n) =>
        SharedMap.reader<number, number>(n, name, options)
      );
      await Promise.all(peers.map(async (p) => {
        await p.when.online();
        await p.when.reaches(w.version);
      }));
      const t = performance.now();
      const group = multi ? {} : { catchUpGap: 0 };
      const r = SharedMap.reader<number, number>(nodes[1], name, { ...options, group });
      await r.when.online();
      await r.when.reaches(w.version);
      const ms = performance.now() - t;
      if (r.size !== entries) throw new Error(`caught up ${r.size} of ${entries}`);
      await Promise.all([w, r, ...peers].map((h) => h.close()));
      return ms;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    const leaderOnly: number[] = [];
    const multi: number[] = [];
    for (let round = 0; round < 5; round++) {
      leaderOnly.push(await join(false));
      multi.push(await join(true));
    }
    report(
      "late reader, 100k entries: 3 sources vs leader",
      median(multi),
      median(leaderOnly),
      "ms",
    );
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

if (import.meta.main) await run();
