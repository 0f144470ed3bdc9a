/**
 * DHT benchmark: our Mainline client against `bittorrent-dht` in the same
 * run, on a 200-node local swarm of bittorrent-dht nodes (loopback only).
 *
 * - lookup latency and nodes queried (get_peers on random infohashes);
 * - BEP 44 mutable get time;
 * - memory per DHT node (RSS growth for 200 nodes of each);
 * - time for two fresh `Network`s to meet through the DHT.
 *
 * `deno run -A bench/dht.ts`
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { SecretKey } from "@mosaik/transport";
import { DhtNode, signItem } from "@mosaik/discovery/dht";
import { Network } from "@mosaik/network";
import { btNode, btVerify, cb, startSwarm } from "../tests/dht_swarm.ts";

const SWARM = 200;
const LOOKUPS = 60;
const ITEMS = 30;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ratio(ours: number, theirs: number): string {
  return `${(ours / theirs).toFixed(2)}x`;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(3);

/** Starts `count` nodes of one implementation, bootstrapped among themselves; resolves with a closer. */
async function startNodes(
  kind: "ours" | "bittorrent-dht",
  count = SWARM,
): Promise<() => Promise<void>> {
  if (kind === "bittorrent-dht") {
    const swarm = await startSwarm(count);
    return swarm.close;
  }
  const ours = [await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] })];
  while (ours.length < count) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(20, count - ours.length) },
        () =>
          DhtNode.create({
            hostname: "127.0.0.1",
            bootstrap: ours.slice(-4).map((n) => n.address),
          }),
      ),
    );
    await Promise.all(batch.map((n) => n.bootstrap()));
    ours.push(...batch);
  }
  return async () => void await Promise.all(ours.map((n) => n.close()));
}

/**
 * RSS growth per node for `SWARM` nodes, measured in a fresh child process
 * (after a 10-node warm-up and a full GC at both ends) so neither side
 * inherits the other's heap.
 */
async function memoryPerNode(kind: "ours" | "bittorrent-dht"): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--memory",
      kind,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

async function measureMemory(kind: "ours" | "bittorrent-dht"): Promise<void> {
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  await (await startNodes(kind, 10))(); // warm-up: module loading, JIT (small, so little heap is left over)
  gc();
  const before = Deno.memoryUsage().rss;
  const close = await startNodes(kind);
  gc();
  const after = Deno.memoryUsage().rss;
  console.log((after - before) / SWARM);
  await close();
}

/** Runs the benchmark and prints each figure with its anchor and the ratio. */
export async function run(): Promise<void> {
  console.log(`## dht (${SWARM}-node local bittorrent-dht swarm, loopback)`);

  const btPerNode = await memoryPerNode("bittorrent-dht");
  const oursPerNode = await memoryPerNode("ours");
  const swarm = await startSwarm(SWARM);
  const routers = swarm.addresses.slice(0, 3);
  const client = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: routers });
  await client.bootstrap();
  let btChecks = 0;
  const bt = await btNode(routers, (sig, msg, pk) => {
    btChecks++;
    return btVerify(sig, msg, pk);
  });
  try {
    // Warm up both clients' routing tables.
    for (let i = 0; i < 5; i++) {
      const t = crypto.getRandomValues(new Uint8Array(20));
      await client.getPeers(t);
      await cb((done) => bt.lookup(Buffer.from(t), done));
    }

    const ourTimes: number[] = [], ourQueried: number[] = [];
    const btTimes: number[] = [], btQueried: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const target = crypto.getRandomValues(new Uint8Array(20));
      let t0 = performance.now();
      const r = await client.getPeers(target);
      ourTimes.push(performance.now() - t0);
      ourQueried.push(r.queried);
      t0 = performance.now();
      const n = await cb<number>((done) => bt.lookup(Buffer.from(target), done));
      btTimes.push(performance.now() - t0);
      btQueried.push(n);
    }
    console.log(
      `lookup p50: ours ${p50(ourTimes).toFixed(2)} ms, bittorrent-dht ${
        p50(btTimes).toFixed(2)
      } ms, ratio ${ratio(p50(ourTimes), p50(btTimes))} (goal <= 1.0x)`,
    );
    console.log(
      `nodes queried p50: ours ${p50(ourQueried)}, bittorrent-dht ${p50(btQueried)}, ratio ${
        ratio(p50(ourQueried), p50(btQueried))
      } (goal <= 1.0x)`,
    );

    // BEP 44 mutable get: items written by a third node, read by both clients.
    const writer = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: routers });
    await writer.bootstrap();
    const keys: SecretKey[] = [];
    const salt = new TextEncoder().encode("bench");
    for (let i = 0; i < ITEMS; i++) {
      const key = SecretKey.generate();
      keys.push(key);
      await writer.putMutable(signItem(key, new TextEncoder().encode(`value ${i}`), 1, salt));
    }
    await writer.close();
    const ourGet: number[] = [], btGet: number[] = [];
    const ourChecks0 = client.stats.signatureChecks;
    btChecks = 0;
    let ourMisses = 0, btMisses = 0;
    for (const key of keys) {
      let t0 = performance.now();
      const item = await client.getMutable(key.publicKey, { salt });
      ourGet.push(performance.now() - t0);
      if (!item) ourMisses++;
      const target = Buffer.from(
        await crypto.subtle.digest("SHA-1", new Uint8Array([...key.publicKey, ...salt])),
      );
      t0 = performance.now();
      const got = await cb<unknown>((done) =>
        bt.get(target, { salt: Buffer.from(salt), cache: false }, done)
      );
      btGet.push(performance.now() - t0);
      if (!got) btMisses++;
    }
    console.log(
      `mutable get p50: ours ${p50(ourGet).toFixed(2)} ms, bittorrent-dht ${
        p50(btGet).toFixed(2)
      } ms, ratio ${
        ratio(p50(ourGet), p50(btGet))
      } (goal <= 0.5x; misses ours ${ourMisses}, theirs ${btMisses})`,
    );
    const ourPerGet = (client.stats.signatureChecks - ourChecks0) / ITEMS;
    console.log(
      `signature checks per mutable get: ours ${ourPerGet.toFixed(1)}, bittorrent-dht ${
        (btChecks / ITEMS).toFixed(1)
      }`,
    );
    console.log(
      `memory per node (RSS growth / ${SWARM}): ours ${mib(oursPerNode)} MiB, bittorrent-dht ${
        mib(btPerNode)
      } MiB, ratio ${ratio(oursPerNode, btPerNode)} (goal <= 1.0x)`,
    );

    // Two fresh Networks with no bootstrap peers meet through the DHT.
    const meets: number[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `bench-meet-${crypto.randomUUID()}`;
      const t0 = performance.now();
      const [a, b] = await Promise.all(
        [0, 1].map(() =>
          Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: { bootstrap: routers } })
        ),
      );
      await Promise.all([a, b].map((n) => n.discovery.when.peers({ minimum: 1 })));
      meets.push(performance.now() - t0);
      await Promise.all([a.close(), b.close()]);
    }
    console.log(
      `two fresh Networks meet through the DHT: p50 ${p50(meets).toFixed(0)} ms (runs: ${
        meets.map((m) => m.toFixed(0)).join(", ")
      } ms; the Rust crate polls every 5 s while alone)`,
    );
  } finally {
    await client.close();
    await new Promise<void>((r) => bt.destroy(() => r()));
    await swarm.close();
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--memory") await measureMemory(Deno.args[1] as "ours" | "bittorrent-dht");
  else await run();
}
