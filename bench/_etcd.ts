// The etcd baseline for group benchmarks: a 3-member etcd cluster (Debian's
import { Buffer } from "node:buffer";
// etcd-server) started on loopback, driven through the etcd3 npm client with
// the same value size and concurrency as our groups.
import { Etcd3 } from "npm:etcd3@1.1.2";
import { percentile } from "./_report.ts";

export interface EtcdCluster {
  client: Etcd3;
  close(): Promise<void>;
}

async function ensureEtcd(): Promise<string> {
  const found = await new Deno.Command("sh", { args: ["-c", "command -v etcd"], stdout: "piped" })
    .output();
  if (found.success) return new TextDecoder().decode(found.stdout).trim();
  console.log("installing Debian's etcd-server for the baseline…");
  const install = await new Deno.Command("sh", {
    args: [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server",
    ],
  }).output();
  if (!install.success) throw new Error("could not install etcd-server");
  return "/usr/bin/etcd";
}

/** Starts three etcd members on 127.0.0.1 with fresh data directories. */
export async function startEtcdCluster(basePort = 23_790): Promise<EtcdCluster> {
  const etcd = await ensureEtcd();
  const dir = await Deno.makeTempDir({ prefix: "mosaik-etcd-" });
  const members = [0, 1, 2].map((i) => ({
    name: `m${i}`,
    client: `http://127.0.0.1:${basePort + i * 2}`,
    peer: `http://127.0.0.1:${basePort + i * 2 + 1}`,
  }));
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(",");
  const procs = members.map((m) =>
    new Deno.Command(etcd, {
      args: [
        `--name=${m.name}`,
        `--data-dir=${dir}/${m.name}`,
        `--listen-client-urls=${m.client}`,
        `--advertise-client-urls=${m.client}`,
        `--listen-peer-urls=${m.peer}`,
        `--initial-advertise-peer-urls=${m.peer}`,
        `--initial-cluster=${initial}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=mosaik-bench",
        "--log-level=error",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const client = new Etcd3({ hosts: members.map((m) => m.client) });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.put("health").value("ok");
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    client,
    async close() {
      client.close();
      for (const p of procs) {
        try {
          p.kill("SIGTERM");
        } catch { /* already gone */ }
        await p.status;
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Puts/s and p50 latency (ms) of `total` puts of `valueSize` bytes at `concurrency`. */
export async function etcdPuts(
  cluster: EtcdCluster,
  opts: { valueSize: number; concurrency: number; total: number },
): Promise<{ perSecond: number; p50: number }> {
  const value = Buffer.alloc(opts.valueSize, 7);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (next < opts.total) {
      const i = next++;
      const s = performance.now();
      await cluster.client.put(`k${i % 1000}`).value(value);
      latencies.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { perSecond: opts.total / secs, p50: percentile(latencies, 50) };
}

if (import.meta.main) {
  const cluster = await startEtcdCluster();
  try {
    for (const concurrency of [1, 64]) {
      const r = await etcdPuts(cluster, {
        valueSize: 1024,
        concurrency,
        total: concurrency === 1 ? 300 : 5000,
      });
      console.log(
        `etcd 3 members, 1 KiB, concurrency ${concurrency}: ${r.perSecond.toFixed(0)} puts/s, p50 ${
          r.p50.toFixed(2)
        } ms`,
      );
    }
  } finally {
    await cluster.close();
  }
}
