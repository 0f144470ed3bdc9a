/**
 * Preference scenarios on the delay switch, shared by
 * `preferences_suite.ts` (which asserts) and `bench/preferences.ts` (which
 * reports): coordinate accuracy among 12 hosts with a delay matrix, the
 * time a consumer takes to move to a newly nearer producer, and a group led
 * in its preferred region that elects elsewhere when that host dies.
 *
 * @module
 */
import { timeFactor } from "@mosaik/transport/testing";
import { DelaySwitch } from "./delay_switch.ts";
import type { NodeProcess } from "./process.ts";

const NODE = new URL("./_prefs_node.ts", import.meta.url);

interface Started {
  process: NodeProcess;
  id: string;
  address: string;
}

/** Starts one node per host and joins them all through the first. */
async function start(
  sw: DelaySwitch,
  options: { probe: number; announce: number; regions?: Record<string, string> },
): Promise<Map<string, Started>> {
  const nodes = new Map<string, Started>();
  await Promise.all(sw.hosts.map(async (h) => {
    const config = {
      listen: `${h.address}:4433`,
      region: options.regions?.[h.name],
      probe: options.probe,
      announce: options.announce,
    };
    const process = sw.spawn(h, NODE, [JSON.stringify(config)]);
    const ready = await process.waitFor((l) => l.ready === true, 60_000, `${h.name} ready`);
    nodes.set(h.name, { process, id: ready.id as string, address: ready.address as string });
  }));
  const first = nodes.get(sw.hosts[0].name)!;
  for (const n of nodes.values()) {
    if (n !== first) await n.process.request("bootstrap", { addresses: [first.address] });
  }
  return nodes;
}

/** The `q` quantile (0..1) of `xs`. */
export function quantile(xs: number[], q: number): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
}

/**
 * One-way delays (ms) of the 12-host matrix: four regions on a plane, three
 * hosts each, one-way = 1 + distance, so RTTs span 2..~130 ms.
 */
export function delayMatrix(): number[][] {
  const centres = [[0, 0], [30, 0], [0, 45], [35, 40]];
  const pos = Array.from({ length: 12 }, (_, i) => {
    const [x, y] = centres[i % 4];
    return [x + 2 * Math.cos(i), y + 2 * Math.sin(i)];
  });
  return pos.map((a) => pos.map((b) => 1 + Math.hypot(a[0] - b[0], a[1] - b[1])));
}

/**
 * Runs 12 nodes behind the switch with {@linkcode delayMatrix} for `seconds`
 * of normal traffic (probes every 2 s, entries refreshed every 3 s), then
 * has each node predict every other (its coordinate and the one in the
 * peer's entry) and measure it (median of up to three pings). Returns the relative
 * errors |predicted − measured| / measured of every ordered pair predicted.
 */
export async function coordinateErrors(seconds: number): Promise<number[]> {
  const matrix = delayMatrix();
  const names = matrix.map((_, i) => `h${i}`);
  await using sw = await DelaySwitch.create(names);
  for (let i = 0; i < 12; i++) {
    for (let j = i + 1; j < 12; j++) await sw.pair(names[i], names[j], matrix[i][j]);
  }
  const nodes = await start(sw, { probe: 2_000, announce: 3_000 });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const errors: number[] = [];
  await Promise.all([...nodes.values()].map(async (n) => {
    const { peers } = await n.process.request("peers") as {
      peers: { id: string; predicted?: number }[];
    };
    for (const p of peers) {
      if (p.predicted === undefined) continue;
      const pings: number[] = [];
      for (let k = 0; k < 3; k++) {
        // A ping that times out on a loaded machine leaves the pair with fewer samples.
        const reply = await n.process.request("ping", { peer: p.id }).catch(() => undefined);
        if (reply) pings.push(reply.ms as number);
      }
      if (pings.length === 0) continue;
      const measured = quantile(pings, 0.5);
      errors.push(Math.abs(p.predicted - measured) / measured);
    }
  }));
  return errors;
}

/** Polls `check` every 250 ms until it holds; rejects after `timeout` ms (scaled). */
async function until(check: () => Promise<boolean>, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout * timeFactor();
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A consumer (`prefer: "latency", limit: 1`) and three producers 2, 20 and
 * 50 ms away (RTT, with jitter): waits until it uses the nearest, then makes
 * the second one the nearest (the first 80 ms away) and returns the ms until
 * the consumer uses only that one.
 */
export async function consumerMove(): Promise<number> {
  await using sw = await DelaySwitch.create(["c", "p1", "p2", "p3"]);
  await sw.link("p1", { delay: 1, jitter: 0.5 });
  await sw.link("p2", { delay: 10, jitter: 1 });
  await sw.link("p3", { delay: 25, jitter: 2 });
  const nodes = await start(sw, { probe: 1_000, announce: 2_000 });
  for (const p of ["p1", "p2", "p3"]) await nodes.get(p)!.process.request("produce");
  const consumer = nodes.get("c")!.process;
  await consumer.request("consume", { prefer: "latency", limit: 1 });
  const usesOnly = (name: string) => async () => {
    const { producers } = await consumer.request("producers") as { producers: string[] };
    return producers.length === 1 && producers[0] === nodes.get(name)!.id;
  };
  await until(usesOnly("p1"), 60_000, "the consumer uses p1, 2 ms away");
  await sw.link("p1", { delay: 40, jitter: 2 });
  await sw.link("p2", { delay: 1, jitter: 0.5 });
  const t0 = performance.now();
  await until(usesOnly("p2"), 60_000, "the consumer moves to p2, now 2 ms away");
  return performance.now() - t0;
}

/**
 * A counter group with one voter per region (eu 2 ms, us 40 ms, ap 80 ms RTT
 * from the switch, with jitter) that prefers `ap`: waits until `ap` leads,
 * kills that host's process and waits until one of the others leads.
 * Returns the ms from start to `ap` leading and from the kill to a new leader.
 */
export async function leaderByRegion(): Promise<{ preferred: number; failover: number }> {
  await using sw = await DelaySwitch.create(["eu", "us", "ap"]);
  await sw.link("eu", { delay: 1, jitter: 0.5 });
  await sw.link("us", { delay: 20, jitter: 2 });
  await sw.link("ap", { delay: 40, jitter: 3 });
  const t0 = performance.now();
  const nodes = await start(sw, {
    probe: 1_000,
    announce: 2_000,
    regions: { eu: "eu", us: "us", ap: "ap" },
  });
  for (const n of nodes.values()) {
    await n.process.request("join", { preferLeaderIn: "ap", expect: 3 });
  }
  const leaderOf = async (name: string) =>
    (await nodes.get(name)!.process.request("leader") as { leader: string | null }).leader;
  const ap = nodes.get("ap")!.id;
  await until(
    async () => (await Promise.all(["eu", "us", "ap"].map(leaderOf))).every((l) => l === ap),
    60_000,
    "every member sees the member in ap lead",
  );
  const preferred = performance.now() - t0;
  await nodes.get("ap")!.process.kill();
  const t1 = performance.now();
  await until(
    async () => {
      const [eu, us] = await Promise.all(["eu", "us"].map(leaderOf));
      return eu !== null && eu !== ap && eu === us;
    },
    60_000,
    "eu and us elect a leader without ap",
  );
  return { preferred, failover: performance.now() - t1 };
}
