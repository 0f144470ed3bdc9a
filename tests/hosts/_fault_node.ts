/**
 * A node of the faults suite, run in a lab host: a durable member of a
 * key-value group (its key and its Raft log under `<dir>`, so a restart is
 * the same member), a SharedMap writer, and a client that keeps reading and
 * writing both, recording every operation with its invocation and response
 * time (`performance.timeOrigin + performance.now()`: one clock for every
 * process on the machine). Prints `{"ready": true, "id", "address"}`, its RSS
 * every 5 s (`{"rss"}`), the leader it follows whenever that changes
 * (`{"leader"}`), whether its SharedMap replica votes whenever that changes
 * (`{"mapVoting"}`: its store is in memory, so a restart comes back empty
 * and votes again once the store re-added it), and a
 * line per operation: `{"op": "kv", …}` for a read or a write's invocation,
 * `{"op": "kv-done", value, ret}` when a write was acknowledged, and
 * `{"op": "map", key, version}` for an acknowledged SharedMap write. Exits on SIGTERM or stdin close;
 * a kill -9 simply ends it.
 *
 * With role `producer` it also produces a stream of numbered ticks (a fresh
 * run id each start) that every other node consumes; on the line `summary`
 * a consumer prints how many ticks it received, got twice and never got
 * (by their numbers), beside the gaps and misses the stream reported.
 *
 * Usage: `_fault_node.ts <network name> <listen host:port> <dir> <bootstrap JSON> [producer]`
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { FileStorage } from "@mosaik/groups";
import { SharedMap } from "@mosaik/collections";
import { deadline, delay } from "@mosaik/transport";
import { stream } from "@mosaik/streams";

const [name, listen, dir, bootstrap, role] = Deno.args;
await Deno.mkdir(`${dir}/group`, { recursive: true });
let secret: string;
try {
  secret = await Deno.readTextFile(`${dir}/key`);
} catch {
  secret = crypto.randomUUID();
  await Deno.writeTextFile(`${dir}/key`, secret);
}
const network = await Network.create(name, {
  listen,
  mdns: false,
  dht: false,
  secretKey: secret,
  bootstrap: JSON.parse(bootstrap ?? "[]"),
});

type Cmd = ["put", string, string];
class KV {
  readonly name = "faults.kv/v1";
  data = new Map<string, string>();
  apply(cmd: Cmd): string {
    this.data.set(cmd[1], cmd[2]);
    return cmd[2];
  }
  query(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  snapshot(): [string, string][] {
    return [...this.data];
  }
  restore(s: [string, string][]): void {
    this.data = new Map(s);
  }
}

const group = network.groups.join({
  key: "faults-kv",
  stateMachine: new KV(),
  storage: FileStorage.open(`${dir}/group`),
  config: { bootstrapExpect: 3 },
});
const map = SharedMap.writer<string, string>(network, "faults-map", {
  writers: 5, // every host writes; a new store forms once three of them are up
});

const Ticks = stream<[string, number]>("faults-ticks");
const seen = new Map<string, number>(); // producer run -> highest tick
let received = 0;
let duplicates = 0;
let skipped = 0; // ticks never received, by their numbers
const consumer = role === "producer" ? undefined : network.streams.consume(Ticks);
const reading = consumer && (async () => {
  for await (const [run, n] of consumer) {
    received++;
    const last = seen.get(run);
    if (last !== undefined && n <= last) duplicates++;
    else {
      // Ticks sent before this consumer subscribed were never meant for it.
      if (last !== undefined) skipped += n - last - 1;
      seen.set(run, n);
    }
  }
})();
const ticking = role === "producer" &&
  (() => {
    const producer = network.streams.produce(Ticks);
    const run = crypto.randomUUID();
    let n = 0;
    return setInterval(() => {
      try {
        producer.trySend([run, n]);
        n++; // numbered only when sent, so a number never received was lost on the way
      } catch {
        // refused (no consumer online): not sent, not numbered
      }
    }, 20);
  })();

const print = (line: object) => console.log(JSON.stringify(line));
print({ ready: true, id: network.local.id, address: network.local.address });
const sampling = setInterval(() => print({ rss: Deno.memoryUsage().rss }), 5000);
let leader: string | undefined;
let mapVoting: boolean | undefined;
const watching = setInterval(() => {
  if (map.voting !== mapVoting) print({ mapVoting: mapVoting = map.voting });
  if (group.leader === leader) return;
  leader = group.leader;
  print({ leader: leader ?? null });
}, 100);

const now = () => performance.timeOrigin + performance.now();
const KEYS = ["a", "b", "c"];
let running = true;
let seq = 0;
// Unique per run of the process: a restarted member never repeats a value.
const me = `${network.local.id.slice(0, 8)}.${crypto.randomUUID().slice(0, 8)}`;

/**
 * One operation against the group: a write of a unique value or a
 * linearizable read. A write's invocation is printed before it starts, so a
 * kill -9 in the middle still leaves it in the history (outcome unknown).
 */
async function groupOp(): Promise<void> {
  const key = KEYS[Math.floor(Math.random() * KEYS.length)];
  if (Math.random() < 0.5) {
    const value = `${me}-${seq++}`;
    print({ op: "kv", key, call: now(), input: ["w", value] });
    try {
      await deadline(group.execute(["put", key, value]), 3000);
      print({ op: "kv-done", value, ret: now() });
    } catch {
      await delay(50); // outcome unknown: the invocation stays open
    }
  } else {
    const call = now();
    try {
      const output = await deadline(group.query(key, { consistency: "strong" }), 3000);
      print({ op: "kv", key, call, ret: now(), input: ["r"], output });
    } catch {
      await delay(50); // a failed read has no effect: nothing to record
    }
  }
}

/** One write to the SharedMap; acknowledged versions are checked at the end. */
async function mapOp(): Promise<void> {
  const key = `${me}-${seq++}`;
  try {
    const version = await map.insert(key, key);
    print({ op: "map", key, version });
  } catch {
    await delay(50); // not acknowledged: may or may not be there
  }
}

const client = (async () => {
  while (running) {
    await (Math.random() < 0.8 ? groupOp() : mapOp());
  }
})();

async function shutdown(): Promise<void> {
  running = false;
  clearInterval(sampling);
  clearInterval(watching);
  if (ticking) clearInterval(ticking);
  await client;
  consumer?.close();
  await reading;
  await network.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", shutdown);
(async () => {
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    if (line.includes('"op":"summary"')) {
      const stats = consumer?.stats;
      print({
        summary: {
          received,
          duplicates,
          skipped,
          gaps: stats?.gaps ?? 0,
          missed: stats?.missed ?? 0,
        },
      });
    }
    if (line.includes('"op":"map-keys"')) {
      const { version } = JSON.parse(line) as { version: number };
      // While it waits, says how far its replica is (a failed wait then shows why).
      const waiting = setInterval(() => {
        print({
          mapWaiting: { have: map.version, want: version, online: map.online, ...map.members },
        });
      }, 10_000);
      await map.when.reaches(version).finally(() => clearInterval(waiting));
      print({ mapKeys: [...map.keys()], version: map.version });
    }
  }
  await shutdown();
})();
