// Linearizability over real QUIC: two in-process members serve concurrent
// clients (writes and strong reads on a key-value store) while a seeded fault
// schedule partitions members (endpoint.faults), isolates the leader, and
// kills the third member for real (SIGKILL of its process) and restarts it on
// its durable file store. The history is checked with the Wing–Gong checker.
// (The many-seed runs over the simulated network are in groups/linearizability_test.ts
// and tests/groups_nightly.ts.)
import assert from "node:assert/strict";
import { Endpoint, SecretKey, toHex } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { FileStorage, type Group, Groups, NotMemberError } from "@mosaik/groups";
import { checkKV, type KVCommand, KVStore, type Op } from "@mosaik/groups/testing";
import { freshNetwork } from "./_harness.ts";

type KVOp = Op<["w", unknown] | ["r"], unknown> & { key: string };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Child {
  #proc: Deno.ChildProcess | undefined;
  address = "";
  constructor(readonly args: Record<string, unknown>) {}
  async start(port: number): Promise<void> {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        new URL("./groups_member.ts", import.meta.url).pathname,
        JSON.stringify({ ...this.args, port }),
      ],
      stdout: "piped",
      stderr: "null",
    });
    this.#proc = cmd.spawn();
    const reader = this.#proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("member process exited early");
      text += value;
    }
    reader.releaseLock();
    this.#proc.stdout.cancel().catch(() => {});
    this.address = text.split("\n")[0].replace("READY ", "").trim();
  }
  get alive(): boolean {
    return this.#proc !== undefined;
  }
  async kill(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p) return;
    p.kill("SIGKILL");
    await p.status;
  }
}

async function run(
  seed: number,
): Promise<{ ops: number; acked: number; anomalies: string[]; faults: string[] }> {
  const r = rng(seed);
  const net = freshNetwork();
  const dir = await Deno.makeTempDir({ prefix: "groups-lin-" });
  const key = crypto.randomUUID();
  const childSeed = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const childId = SecretKey.from(childSeed).peerId;
  const config = { bootstrapExpect: 3, commandTimeout: 1500 };
  const child = new Child({ net, seed: childSeed, key, dir: `${dir}/c`, peers: [], config });
  await child.start(0);
  const port = Number(child.address.split(":").pop());
  const eps = await Promise.all([0, 1].map(() => Endpoint.create({ networkId: net })));
  const groups = eps.map((e) => new Groups(e));
  const gs: Group<KVCommand, string, string, string | null>[] = groups.map((g, i) =>
    g.join({
      key,
      stateMachine: new KVStore(),
      storage: FileStorage.open(`${dir}/${i}`),
      config: { ...config, peers: [eps[1 - i].address, child.address] },
    })
  );
  child.args.peers = eps.map((e) => e.address);
  const history: KVOp[] = [];
  const faults: string[] = [];
  let stop = false;
  let counter = 0;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  try {
    await within(Promise.all(gs.map((g) => g.when.online())), 10_000);
    const client = async (c: number) => {
      const cr = rng(seed * 7 + c);
      while (!stop) {
        const g = gs[Math.floor(cr() * 2)];
        const k = ["a", "b"][Math.floor(cr() * 2)];
        const call = now();
        if (cr() < 0.5) {
          const value = `c${c}-${counter++}`;
          const op: KVOp = { key: k, call, ret: Infinity, input: ["w", value] };
          try {
            await g.execute(["put", k, value]);
            op.ret = now();
          } catch (e) {
            if (e instanceof NotMemberError) continue;
          }
          history.push(op);
        } else {
          try {
            const output = await g.query(k, { consistency: "strong" });
            history.push({ key: k, call, ret: now(), input: ["r"], output });
          } catch {
            // no effect
          }
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    const block = (a: Endpoint, peer: string, on: boolean) =>
      on ? a.faults.block(peer as never) : a.faults.unblock(peer as never);
    const healAll = () => {
      for (const e of eps) {
        for (const p of [eps[0].peerId, eps[1].peerId, childId]) block(e, p, false);
      }
    };
    const end = performance.now() + 5000;
    while (performance.now() < end) {
      await new Promise((res) => setTimeout(res, 300 + Math.floor(r() * 500)));
      const x = r();
      const leaderIsChild = gs[0].leader === childId;
      if (x < 0.3 && child.alive && (leaderIsChild || x < 0.15)) {
        await child.kill();
        faults.push(`${Math.round(now())} SIGKILL child${leaderIsChild ? " (leader)" : ""}`);
      } else if (x < 0.5 && !child.alive) {
        await child.start(port).catch(() => child.start(0));
        faults.push(`${Math.round(now())} restart child`);
      } else if (x < 0.75) {
        const li = gs.findIndex((g) => g.isLeader);
        const v = li >= 0 ? li : Math.floor(r() * 2);
        for (const p of [eps[1 - v].peerId, childId]) block(eps[v], p, true);
        block(eps[1 - v], eps[v].peerId, true);
        faults.push(`${Math.round(now())} isolate member ${v}${li >= 0 ? " (leader)" : ""}`);
      } else {
        healAll();
        faults.push(`${Math.round(now())} heal`);
      }
    }
    healAll();
    if (!child.alive) await child.start(port).catch(() => child.start(0));
    faults.push(`${Math.round(now())} heal + restart`);
    try {
      await eventually(() => gs.every((g) => g.online), { timeout: 10_000 });
    } catch (e) {
      console.log(
        "not online",
        gs.map((g) => [g.metrics, g.members, g.bonds.length, g.leader]),
        childId,
      );
      throw e;
    }
    stop = true;
    await within(Promise.all(clients), 10_000);
    const top = Math.max(...gs.map((g) => g.metrics.commitIndex));
    await within(Promise.all(gs.map((g) => g.when.applied(top))), 10_000);
    const anomalies: string[] = [];
    const check = checkKV(history);
    if (!check.ok) anomalies.push(`not linearizable on key ${check.badKey}`);
    const s0 = JSON.stringify([
      await gs[0].query("a", { consistency: "weak" }),
      await gs[0].query("b", { consistency: "weak" }),
    ]);
    const s1 = JSON.stringify([
      await gs[1].query("a", { consistency: "weak" }),
      await gs[1].query("b", { consistency: "weak" }),
    ]);
    if (s0 !== s1) anomalies.push(`members differ: ${s0} vs ${s1}`);
    return {
      ops: history.length,
      acked: history.filter((o) => o.ret !== Infinity).length,
      anomalies,
      faults,
    };
  } finally {
    stop = true;
    await child.kill();
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(eps.map((e) => e.close()));
    await Deno.remove(dir, { recursive: true });
  }
}

for (const seed of [1, 2, 3]) {
  Deno.test(`linearizable over QUIC with partitions and SIGKILL restarts (seed ${seed})`, async () => {
    const res = await run(seed);
    console.log(`${res.ops} ops, ${res.acked} answered; ${res.faults.join(", ")}`);
    assert.deepEqual(res.anomalies, [], `faults: ${res.faults.join(", ")}`);
    assert.ok(res.acked > 20, `only ${res.acked} acknowledged operations`);
  });
}
