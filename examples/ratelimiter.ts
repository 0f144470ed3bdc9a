/**
 * A rate limiter shared by several nodes: token buckets in a `SharedMap`
 * every node writes. Each node hammers its buckets; the tokens granted over
 * all nodes together never exceed a bucket's limit (`burst` at once, `rate`
 * per second after that).
 *
 * Why it holds: taking a token is one `compareExchange` of the bucket, an
 * atomic step of the map's Raft log. A node reads the bucket, refills it for
 * the time passed, takes a token and swaps the new bucket in only if nobody
 * changed it meanwhile; otherwise it reads again (its replica has caught up
 * with the winning write by then) and retries. Denials write nothing. The
 * refill time only moves forward, so over any interval the grants of all
 * nodes add up to at most `burst + rate × interval` (measured by the nodes'
 * clocks; a clock ahead by s ms refills at most `rate × s` tokens early).
 * The limit is shared, not split fairly: the node that leads the map's group
 * swaps fastest and wins most races.
 *
 * Start it in three terminals (or on three machines of one LAN); the map forms
 * once a majority of `--nodes` writers met, and Ctrl-C prints what this node
 * was granted.
 *
 * Run: `deno task ratelimiter --bucket api --rate 20 --burst 5`
 *
 * `--local --bootstrap <peerId>@host:port` keeps it on loopback (tests).
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { commandLine } from "./_args.ts";
import { abortable, delay } from "@mosaik/transport";
import { SharedMap, WriteError } from "@mosaik/collections";

const { values } = commandLine(
  {
    options: {
      bucket: { type: "string", multiple: true, default: ["api"] },
      rate: { type: "string", default: "20" },
      burst: { type: "string", default: "5" },
      nodes: { type: "string", default: "3" },
      local: { type: "boolean", default: false },
      bootstrap: { type: "string", multiple: true, default: [] },
    },
  },
  "deno task ratelimiter [--bucket name]... [--rate n] [--burst n] [--nodes n] [--local] [--bootstrap <peerId>@host:port]...",
);
const local = values.local ? { listen: "127.0.0.1:0", mdns: false, dht: false } : {};
const [rate, burst, nodes] = [values.rate, values.burst, values.nodes].map(Number);
if (![rate, burst, nodes].every((n) => Number.isSafeInteger(n) && n > 0)) {
  console.error("ratelimiter: --rate, --burst and --nodes take positive integers");
  Deno.exit(2);
}

const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stop.abort());
}

/** A token bucket; tokens in thousandths so that refills stay integers. */
interface Bucket {
  /** Tokens per second. */
  rate: number;
  /** Most tokens held. */
  burst: number;
  /** Thousandths of a token held at `at`. */
  milli: number;
  /** Unix ms of the last refill. */
  at: number;
}

const network = await Network.create("mosaik-ratelimiter", {
  ...local,
  bootstrap: values.bootstrap,
});
console.log(`ratelimiter: I am ${network.local.address}`);
// Every node is a writer (a voter of the map's group); the map forms once a
// majority of the `nodes` writers met, so no two maps ever grant apart.
const buckets = SharedMap.writer<string, Bucket>(network, "ratelimiter/buckets", {
  schema: "bucket/v1",
  writers: nodes,
});
await buckets.when.online({ signal: stop.signal }).catch(() => {});

/** Takes one token of `name`: the time (the bucket's refill time) it was granted at, or undefined. */
async function take(name: string): Promise<number | undefined> {
  for (;;) {
    const bucket = buckets.get(name);
    const now = Math.max(Date.now(), bucket?.at ?? 0);
    const milli = bucket
      ? Math.min(bucket.burst * 1000, bucket.milli + (now - bucket.at) * bucket.rate)
      : burst * 1000;
    if (milli < 1000) return undefined;
    const next = {
      rate: bucket?.rate ?? rate,
      burst: bucket?.burst ?? burst,
      milli: milli - 1000,
      at: now,
    };
    // Ctrl-C does not wait for a swap (up to the command timeout without a
    // quorum); one cut short is not counted, though it may have taken its token.
    const { swapped } = await abortable(buckets.compareExchange(name, bucket, next), stop.signal);
    if (swapped) return now;
  }
}

const granted = new Map<string, number[]>(values.bucket.map((b) => [b, []]));
let denied = 0;
const report = setInterval(() => {
  const counts = [...granted].map(([b, times]) => `${b} ${times.length}`).join(", ");
  console.log(`ratelimiter: granted ${counts}; denied ${denied}`);
}, 1000);
while (!stop.signal.aborted) {
  for (const name of values.bucket) {
    try {
      const at = await take(name);
      if (at === undefined) denied++;
      else granted.get(name)!.push(at);
    } catch (error) {
      if (stop.signal.aborted) break;
      // Offline or timed out (a leader change): not granted, try again.
      if (!(error instanceof WriteError)) throw error;
    }
  }
  await delay(2, { signal: stop.signal }).catch(() => {});
}
clearInterval(report);
console.log(`ratelimiter: grants ${JSON.stringify(Object.fromEntries(granted))}`);
await network.close();
console.log("ratelimiter: bye");
