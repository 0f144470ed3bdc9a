/**
 * Groups benchmarks on loopback: first leader and failover times (default
 * settings), and committed commands per second for 3 members with 1 KiB
 * commands (in memory and durable), each next to a 3-member etcd cluster
 * started here and driven through `etcd3` with the same value size and
 * concurrency, in the same run. In-memory throughput at concurrency 256 is
 * also printed against what the transport alone carries from this process
 * to two follower processes (1 KiB per command to each, in 64 KiB frames):
 * the ceiling of any leader here, consensus or not.
 *
 * The throughput runs put the leader in this process and each follower in
 * its own process (this file with `--member`), as etcd runs one process per
 * member.
 *
 * Run alone: `deno run -A bench/groups.ts`
 *
 * @module
 */
import { Etcd3 } from "npm:etcd3@1.1.2";
import { Endpoint, networkId, parsePeerAddress } from "@mosaik/transport";
import { FileStorage, type Group, Groups, MemoryStorage, type Storage } from "@mosaik/groups";
import { figure, percentile, report } from "./_report.ts";

const VALUE = new Uint8Array(1024).map((_, i) => i & 0xff);
const DURATION = Number(Deno.env.get("BENCH_GROUPS_MS") ?? 3000);

class Blob {
  readonly name = "blob/v1";
  count = 0;
  bytes = 0;
  apply(cmd: Uint8Array): number {
    this.count++;
    this.bytes += cmd.length;
    return this.count;
  }
  query(): number {
    return this.count;
  }
  snapshot(): [number, number] {
    return [this.count, this.bytes];
  }
  restore(s: [number, number]): void {
    [this.count, this.bytes] = s;
  }
}

interface Cluster {
  eps: Endpoint[];
  groups: Groups[];
  gs: Group<Uint8Array, number, unknown, number>[];
  close(): Promise<void>;
}

async function cluster(storage: (i: number) => Storage, n = 3): Promise<Cluster> {
  const net = networkId(crypto.randomUUID());
  const eps = await Promise.all(
    Array.from({ length: n }, () => Endpoint.create({ networkId: net })),
  );
  const groups = eps.map((e) => new Groups(e));
  const key = crypto.randomUUID();
  const gs = groups.map((g, i) =>
    g.join({
      key,
      stateMachine: new Blob(),
      storage: storage(i),
      config: {
        peers: eps.filter((_, j) => j !== i).map((e) => e.address),
        bootstrapExpect: n,
      },
    })
  );
  return {
    eps,
    groups,
    gs,
    async close() {
      await Promise.all(groups.map((g) => g.close()));
      await Promise.all(eps.map((e) => e.close()));
    },
  };
}

async function drive(
  concurrency: number,
  op: () => Promise<unknown>,
): Promise<{ perSecond: number; p50: number }> {
  const lat: number[] = [];
  const end = performance.now() + DURATION;
  const t0 = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await op();
      lat.push(performance.now() - t);
      done++;
    }
  }));
  return { perSecond: done / ((performance.now() - t0) / 1000), p50: percentile(lat, 50) };
}

async function electionTimes(): Promise<{ first: number; failover: number }> {
  const firsts: number[] = [];
  const failovers: number[] = [];
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    const c = await cluster(() => new MemoryStorage()); // default timing settings
    await Promise.all(c.gs.map((g) => g.when.leaderElected()));
    firsts.push(performance.now() - t0);
    await Promise.all(c.gs.map((g) => g.when.online()));
    while (!c.gs.every((g) => g.members.voters.length === 3)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Crash the leader: its endpoint vanishes without handing over.
    const li = c.gs.findIndex((g) => g.isLeader);
    const rest = c.gs.filter((_, i) => i !== li);
    const changed = Promise.race(rest.map((g) => g.when.leaderChanged()));
    const t1 = performance.now();
    for (let i = 0; i < c.eps.length; i++) if (i !== li) c.eps[i].faults.block(c.eps[li].peerId);
    await c.eps[li].close();
    await changed;
    failovers.push(performance.now() - t1);
    await c.close();
  }
  return { first: percentile(firsts, 50), failover: percentile(failovers, 50) };
}

/** Protocol of the raw anchor: frames counted by a sink, a 1-byte frame answered. */
const RAW = "/bench/groups/raw/1";

/**
 * A follower in its own process (as etcd's members are): `bench/groups.ts
 * --member <json>`; with `sink`, only an endpoint taking raw frames.
 */
async function memberMain(json: string): Promise<void> {
  const a = JSON.parse(json) as {
    net: string;
    key: string;
    dir: string;
    peers: string[];
    sink?: boolean;
  };
  const endpoint = await Endpoint.create({ networkId: a.net as ReturnType<typeof networkId> });
  const groups = a.sink ? undefined : new Groups(endpoint);
  if (groups) {
    groups.join({
      key: a.key,
      stateMachine: new Blob(),
      storage: a.dir ? FileStorage.open(a.dir) : new MemoryStorage(),
      config: { peers: a.peers, bootstrapExpect: 3, preference: "never" },
    });
  } else {
    endpoint.handle(RAW, async (channel) => {
      for (;;) {
        const frame = await channel.recvBytes();
        if (!frame) return;
        if (frame.length === 1) await channel.sendBytes(frame);
      }
    });
  }
  console.log(`READY ${endpoint.address}`);
  for await (const _ of Deno.stdin.readable) {
    // runs until the parent closes stdin
  }
  await groups?.close();
  await endpoint.close();
}

async function spawnMember(
  args: Record<string, unknown>,
): Promise<{ address: string; proc: Deno.ChildProcess }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--member", JSON.stringify(args)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("member exited");
    text += value;
  }
  reader.releaseLock();
  proc.stdout.cancel().catch(() => {});
  return { address: text.split("\n")[0].replace("READY ", "").trim(), proc };
}

/** Throughput with the leader here and each follower in its own process. */
async function groupsThroughput(
  durable: boolean,
  concurrencies: number[],
): Promise<{ perSecond: number; p50: number }[]> {
  const dir = durable ? await Deno.makeTempDir({ prefix: "bench-groups-" }) : "";
  const net = networkId(crypto.randomUUID());
  const key = crypto.randomUUID();
  const endpoint = await Endpoint.create({ networkId: net });
  const a = await spawnMember({
    net,
    key,
    dir: durable ? `${dir}/a` : "",
    peers: [endpoint.address],
  });
  const b = await spawnMember({
    net,
    key,
    dir: durable ? `${dir}/b` : "",
    peers: [endpoint.address, a.address],
  });
  const groups = new Groups(endpoint);
  const leader = groups.join({
    key,
    stateMachine: new Blob(),
    storage: durable ? FileStorage.open(`${dir}/l`) : new MemoryStorage(),
    config: { peers: [a.address, b.address], bootstrapExpect: 3 },
  });
  try {
    while (!(leader.isLeader && leader.members.voters.length === 3)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await leader.execute(VALUE);
    const out = [];
    for (const c of concurrencies) out.push(await drive(c, () => leader.execute(VALUE)));
    return out;
  } finally {
    await groups.close();
    await endpoint.close();
    for (const m of [a, b]) {
      await m.proc.stdin.close();
      await m.proc.status;
    }
    if (durable) await Deno.remove(dir, { recursive: true });
  }
}

/**
 * What the transport carries from this process to two follower processes:
 * 1 KiB commands per second, each to both, written as 64 KiB frames for
 * `DURATION` ms (the bytes a leader sends at that rate, with no consensus
 * at all).
 */
async function rawCeiling(): Promise<number> {
  const net = networkId(crypto.randomUUID());
  const endpoint = await Endpoint.create({ networkId: net });
  const sinks = [
    await spawnMember({ net, sink: true }),
    await spawnMember({ net, sink: true }),
  ];
  try {
    const channels = await Promise.all(sinks.map((s) => {
      const { peerId, address } = parsePeerAddress(s.address);
      return endpoint.open(peerId, [address], RAW);
    }));
    const frame = new Uint8Array(64 * 1024);
    const t0 = performance.now();
    let frames = 0;
    await Promise.all(channels.map(async (ch) => {
      let n = 0;
      while (performance.now() - t0 < DURATION) {
        await ch.sendBytes(frame);
        n++;
      }
      await ch.sendBytes(new Uint8Array(1));
      await ch.recvBytes(); // the sink read everything before it
      frames += n;
    }));
    const secs = (performance.now() - t0) / 1000;
    return frames / channels.length * 64 / secs;
  } finally {
    await endpoint.close();
    for (const s of sinks) {
      await s.proc.stdin.close();
      await s.proc.status;
    }
  }
}

async function ensureEtcd(): Promise<string> {
  const which = await new Deno.Command("sh", { args: ["-c", "command -v etcd"], stdout: "piped" })
    .output();
  const path = new TextDecoder().decode(which.stdout).trim();
  if (path) return path;
  console.log("installing etcd-server (apt-get)...");
  await new Deno.Command("sh", {
    args: ["-c", "apt-get update && apt-get install -y etcd-server"],
    stdout: "null",
    stderr: "null",
  }).output();
  return "etcd";
}

async function withEtcd<T>(fn: (client: Etcd3) => Promise<T>): Promise<T> {
  const bin = await ensureEtcd();
  const dir = await Deno.makeTempDir({ prefix: "bench-etcd-" });
  // Six free ports (client and peer port of each member).
  const ports = Array.from({ length: 6 }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }))
    .map((l) => {
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      return port;
    });
  const clientPort = (i: number) => ports[i];
  const peerPort = (i: number) => ports[3 + i];
  const peers = [0, 1, 2].map((i) => `e${i}=http://127.0.0.1:${peerPort(i)}`).join(",");
  const procs = [0, 1, 2].map((i) =>
    new Deno.Command(bin, {
      args: [
        `--name=e${i}`,
        `--data-dir=${dir}/e${i}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort(i)}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort(i)}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort(i)}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort(i)}`,
        `--initial-cluster=${peers}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=bench",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const client = new Etcd3({
    hosts: [0, 1, 2].map((i) => `http://127.0.0.1:${clientPort(i)}`),
    defaultCallOptions: () => ({ deadline: Date.now() + 10_000 }),
  });
  try {
    for (let i = 0;; i++) {
      try {
        await client.put("warmup").value("1");
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return await fn(client);
  } finally {
    client.close();
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.status));
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs the groups benchmarks and prints each figure next to its anchor. */
export async function run(): Promise<void> {
  console.log("# groups (3 members on loopback, 1 KiB commands)");
  const times = await electionTimes();
  figure("groups: first leader (3 members)", times.first, "ms", "goal < 1000 ms");
  figure("groups: failover after leader crash", times.failover, "ms", "goal < 1500 ms");

  const etcd = await withEtcd(async (client) => {
    const put = async () => {
      await client.put(`k${Math.floor(Math.random() * 1000)}`).value(Buffer.from(VALUE));
    };
    return { c1: await drive(1, put), c64: await drive(64, put) };
  });
  const ceiling = await rawCeiling();
  for (const durable of [false, true]) {
    const label = durable ? "durable" : "in-memory";
    const [c1, c64, c256] = await groupsThroughput(durable, [1, 64, 256]);
    report(`groups ${label} commits/s, concurrency 1`, c1.perSecond, etcd.c1.perSecond, "cmd/s");
    report(`groups ${label} p50 latency, concurrency 1`, c1.p50, etcd.c1.p50, "ms", {
      ratio: 1,
      higherIsBetter: false,
    });
    report(
      `groups ${label} commits/s, concurrency 64`,
      c64.perSecond,
      etcd.c64.perSecond,
      "cmd/s",
      {
        ratio: durable ? 10 : 3, // durable: group commit (one fdatasync for what arrived together)
        higherIsBetter: true,
      },
    );
    if (durable) figure(`groups ${label} commits/s, concurrency 256`, c256.perSecond, "cmd/s");
    else {
      report(
        `groups ${label} c=256 vs raw 1 KiB ×2`,
        c256.perSecond,
        ceiling,
        "cmd/s",
      );
      figure(
        "  goal ≥ 100,000 commits/s",
        c256.perSecond,
        "cmd/s",
        c256.perSecond >= 100_000 ? "met" : "MISSED",
      );
    }
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--member") await memberMain(Deno.args[1]);
  else await run();
}
