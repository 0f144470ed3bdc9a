/**
 * Reaching peers across hosts: stream throughput and round-trip latency
 * through a relay next to the same on a direct connection, measured in the
 * same run on loopback; then, when this machine can build network namespaces
 * (root), hole punching behind two endpoint-independent NATs of the lab in
 * `tests/hosts/lab.ts`: time from first contact to a direct path and the
 * share of tries that get one (`PUNCH_TRIES`, default 50).
 *
 * Run alone: `deno run -A bench/hosts.ts`
 *
 * @module
 */
import { type Channel, Endpoint } from "@mosaik/transport";
import { Lab, labSupport } from "../tests/hosts/lab.ts";
import { type Line, NodeProcess } from "../tests/hosts/process.ts";
import { CHUNK, NET, VOLUME } from "./_hosts_node.ts";
import { meter } from "./_proc.ts";
import { figure, percentile, report } from "./_report.ts";

const NODE = new URL("./_hosts_node.ts", import.meta.url);
const LOOPBACK = ["127.0.0.1"];

/** A relay R and a node N reserved at R, each its own process, and a peer P here. */
async function trio() {
  const relay = NodeProcess.local(NODE, [JSON.stringify({ role: "relay" })], {
    allowNet: LOOPBACK,
  });
  const r = await relay.waitFor((l) => l.ready === true);
  const node = NodeProcess.local(NODE, [JSON.stringify({ role: "node", relay: r.address })], {
    allowNet: LOOPBACK,
  });
  const n = await node.waitFor((l) => l.ready === true);
  const p = await Endpoint.create({ networkId: NET });
  return {
    p,
    pids: [relay.pid, node.pid, Deno.pid],
    n: { peerId: n.id as Endpoint["peerId"], hostPort: n.hostPort as string },
    relayed: n.relayed as string,
    async close() {
      await p.close();
      await node.stop();
      await relay.stop();
    },
  };
}

type Trio = Awaited<ReturnType<typeof trio>>;

/** Mbit/s of `VOLUME` bytes P → N, then N → P, on channels opened at `address`. */
async function throughput(t: Trio, address: string) {
  const up = await t.p.open(t.n.peerId, [address], "/sink/1");
  const chunk = new Uint8Array(CHUNK);
  let t0 = performance.now();
  for (let sent = 0; sent < VOLUME; sent += CHUNK) await up.sendBytes(chunk);
  await up.recv();
  const upSecs = (performance.now() - t0) / 1000;
  await up.close();
  const down = await t.p.open(t.n.peerId, [address], "/source/1");
  t0 = performance.now();
  await down.send("go");
  for (let got = 0; got < VOLUME;) got += (await down.recvBytes())!.length;
  const downSecs = (performance.now() - t0) / 1000;
  await down.send("done");
  await down.close();
  const mbit = (secs: number) => (VOLUME * 8) / secs / 1e6;
  return { up: mbit(upSecs), down: mbit(downSecs) };
}

/** Round-trip p50 in ms of small echoes on a channel opened at `address`. */
async function latency(t: Trio, address: string): Promise<number> {
  const ch: Channel = await t.p.open(t.n.peerId, [address], "/echo/1");
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await ch.send(i);
    await ch.recv();
    if (i >= 20) samples.push(performance.now() - t0);
  }
  await ch.close();
  return percentile(samples, 50);
}

/** Relayed against direct on loopback, in one run. */
async function relayedVersusDirect(): Promise<void> {
  const t = await trio();
  try {
    // Relayed first: a direct connection, once there, would be preferred.
    let spent = meter(t.pids);
    const relayed = await throughput(t, t.relayed);
    const relayedSpent = spent();
    const relayedRtt = await latency(t, t.relayed);
    t.p.connection(t.n.peerId)?.close();
    spent = meter(t.pids);
    const direct = await throughput(t, t.n.hostPort);
    const directSpent = spent();
    const directRtt = await latency(t, t.n.hostPort);
    const goal = { ratio: 0.5, higherIsBetter: true };
    report("relayed stream P → N (16 MiB)", relayed.up, direct.up, "Mbit/s", goal);
    report("relayed stream N → P (16 MiB)", relayed.down, direct.down, "Mbit/s", goal);
    report("relayed round trip p50", relayedRtt, directRtt, "ms");
    if (relayedSpent && directSpent) {
      const perMiB = (cpu: number) => (cpu * 1000) / ((2 * VOLUME) / (1 << 20));
      report(
        "  CPU per MiB moved (R, N and P together)",
        perMiB(relayedSpent.cpu),
        perMiB(directSpent.cpu),
        "ms",
      );
      figure(
        "  UDP datagrams dropped at full buffers",
        relayedSpent.drops,
        "",
        `direct: ${directSpent.drops} (receive buffers of ~208 KiB; each drop is a loss to QUIC)`,
      );
    }
  } finally {
    await t.close();
  }
}

const REACH_NODE = new URL("../tests/hosts/_reach_node.ts", import.meta.url);
/** Milliseconds a try has, from first contact, to reach a direct path. */
const PUNCH_WITHIN = 30_000;

const pathTo = (l: Line, peer: unknown) =>
  (l.paths as Record<string, string> | undefined)?.[peer as string];

/**
 * One try: a public relay r and observer q, and hosts a and b behind two NATs
 * (fresh processes and identities). Returns the milliseconds from first
 * contact between a and b (either one sees a connection to the other) to a
 * direct path on both sides and whether they were relayed first (else their
 * simultaneous direct dials met at once), or `undefined` when no direct path
 * came after contact. Throws when the try never got that far (a node did not
 * start, or a and b never met): a failure of the set-up, not of punching.
 * Paths are sampled every 200 ms by the nodes.
 */
async function punchOnce(
  lab: Lab,
  hosts: Record<"r" | "q" | "a" | "b", Parameters<Lab["spawn"]>[0]>,
  within = PUNCH_WITHIN,
) {
  const network = `bench-punch-${crypto.randomUUID()}`;
  const relay = lab.spawn(hosts.r, REACH_NODE, [
    JSON.stringify({ network, name: "r", relay: true }),
  ]);
  const nodes = [relay];
  try {
    const r = await relay.waitFor((l) => l.ready === true);
    const bootstrap = [`${r.id}@${(r.addresses as string[])[0]}`];
    for (const name of ["q", "a", "b"] as const) {
      nodes.push(
        lab.spawn(hosts[name], REACH_NODE, [JSON.stringify({ network, name, bootstrap })]),
      );
    }
    const [, a, b] = nodes.slice(1);
    const [ra, rb] = await Promise.all([a, b].map((n) => n.waitFor((l) => l.ready === true)));
    const contact = async () => {
      await Promise.race([
        a.waitFor((l) => pathTo(l, rb.id) !== undefined, PUNCH_WITHIN),
        b.waitFor((l) => pathTo(l, ra.id) !== undefined, PUNCH_WITHIN),
      ]);
      return performance.now();
    };
    const first = await contact();
    try {
      await Promise.all([
        a.waitFor((l) => pathTo(l, rb.id) === "direct", within),
        b.waitFor((l) => pathTo(l, ra.id) === "direct", within),
      ]);
      const relayed = (n: typeof a, peer: unknown) =>
        n.lines.some((l) => pathTo(l, peer) === "relayed");
      return {
        ms: performance.now() - first,
        relayedFirst: relayed(a, rb.id) || relayed(b, ra.id),
      };
    } catch {
      return undefined;
    }
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
  }
}

/**
 * Punching behind two NATs of one kind, `tries` times. Behind symmetric NATs
 * (a new public port per destination) no punch can work: what counts there
 * is that every try still connects, relayed, and no try is left hanging
 * (each waits only `within` ms for a direct path after contact).
 */
async function punching(nat: "endpoint-independent" | "symmetric", tries: number, within: number) {
  await using lab = await Lab.create();
  const [lanA, lanB] = [await lab.lan("a-home", { nat }), await lab.lan("b-home", { nat })];
  const hosts = {
    r: await lab.host("relay"),
    q: await lab.host("q"),
    a: await lab.host("a", lanA),
    b: await lab.host("b", lanB),
  };
  const times: number[] = [];
  let failed = 0;
  let punched = 0;
  let unset = 0;
  for (let i = 0; i < tries; i++) {
    const got = await punchOnce(lab, hosts, within).catch(() => null);
    if (got === null) unset++;
    else if (got === undefined) failed++;
    else {
      times.push(got.ms);
      if (got.relayedFirst) punched++;
    }
  }
  const met = times.length + failed;
  const rate = (100 * times.length) / met;
  const left = unset > 0 ? `; ${unset} tries left out: never met (set-up failed)` : "";
  if (nat === "symmetric") {
    const connected = (100 * met) / tries;
    figure(
      `connected, symmetric NATs (${tries} tries)`,
      connected,
      "%",
      `goal 100% through the relay ${connected === 100 ? "met" : "MISSED"}${left}`,
    );
    figure("  of them on a direct path", rate, "%", "(none expected: no mapping to punch)");
    return;
  }
  figure(
    `punch success, EIM NATs (${met} tries)`,
    rate,
    "%",
    `goal ≥ 95% ${rate >= 95 ? "met" : "MISSED"}; libp2p DCUtR in the wild ~70% (ratio ${
      (rate / 70).toFixed(2)
    }×)`,
  );
  if (times.length > 0) {
    figure("  first contact → direct p50", percentile(times, 50), "ms", "(200 ms sampling)");
    figure(
      "  first contact → direct p90",
      percentile(times, 90),
      "ms",
      `${failed} failed; ${punched} punched over the relay, the others direct at once${left}`,
    );
  }
}

/** Runs the hosts benchmarks and prints the figures. */
export async function run(): Promise<void> {
  console.log("## hosts (loopback: relay vs direct)");
  await relayedVersusDirect();
  const support = labSupport();
  if (!support.ok) return console.log(`hole punching across NATs skipped: ${support.reason}`);
  console.log("## hosts (namespaces: hole punching)");
  const tries = Number(Deno.env.get("PUNCH_TRIES") ?? 50);
  await punching("endpoint-independent", tries, PUNCH_WITHIN);
  await punching("symmetric", tries, 3_000);
}

if (import.meta.main) await run();
