/**
 * Scale on paper, measured: the real discovery state machines (HyParView,
 * Plumtree, Catalog, signed entries) and the real Raft replicas run in one
 * process on virtual time, and the figures docs/scale.md extrapolates from.
 *
 * `deno run -A --v8-flags=--expose-gc bench/scale.ts [sizes=200,1000,10000]`
 *
 * - gossip: N nodes join an overlay through random earlier nodes (each
 *   topping its view up every 500 ms, as Discovery's upkeep does), one
 *   broadcast builds the tree, they shuffle for three intervals, then 20
 *   nodes broadcast a real signed entry each; prints view sizes, messages
 *   per node (join, steady state, per broadcast), delivery and hops;
 * - catalog: heap and wire bytes per entry of a real Catalog, and the size of
 *   a sync summary;
 * - DHT: iterative Kademlia lookups (k = 8, alpha = 3) over N random ids, as
 *   discovery/dht runs them (a model of the routing, not the UDP node);
 * - groups: messages per member per second of idle and loaded groups.
 *
 * @module
 */
import { networkId, type PeerId, SecretKey, tag } from "@mosaik/transport";
import { type HvMessage, HyParView, type PeerInfo } from "../discovery/_hyparview.ts";
import { Plumtree, type PtMessage } from "../discovery/_plumtree.ts";
import { VirtualScheduler } from "../discovery/_scheduler.ts";
import { encodeSummary } from "../discovery/_summary.ts";
import { Catalog } from "../discovery/catalog.ts";
import { type PeerEntry, type SignedPeerEntry, signEntry } from "../discovery/entry.ts";
import { rng, Sim } from "../groups/_sim.ts";

type Msg = HvMessage | PtMessage;

interface Node {
  info: PeerInfo;
  hv: HyParView;
  pt: Plumtree;
  received: number;
  delivered: Map<string, number>;
}

/** The overlay: every message costs 1–3 ms of virtual latency, FIFO per link. */
class Overlay {
  time = new VirtualScheduler();
  nodes = new Map<PeerId, Node>();
  byIndex: Node[] = [];
  random: () => number;
  counts: Record<string, number> = {};
  bytes = 0;
  #last = new Map<string, number>();
  constructor(seed: number) {
    this.random = rng(seed);
  }
  add(i: number): Node {
    const id = `peer${String(i).padStart(6, "0")}` as PeerId;
    const info = { id, addresses: [`10.0.${i >> 8}.${i & 255}:4000`] };
    const node = { info, received: 0, delivered: new Map() } as unknown as Node;
    node.hv = new HyParView(
      info,
      {},
      {
        send: (to, m) => this.send(node, to.id, m),
        release: () => {},
        neighborUp: (p) => node.pt.neighborUp(p.id),
        neighborDown: (p) => node.pt.neighborDown(p),
      },
      this.time,
      this.random,
    );
    node.pt = new Plumtree({}, {
      send: (to, m) => this.send(node, to, m),
      deliver: (payload) => {
        node.delivered.set(idOf(payload), this.time.now());
        return true;
      },
      id: idOf,
    }, this.time);
    // Discovery's upkeep: a top-up every 500 ms (±20 %); and about every 10 s
    // the catalog brings a random peer to the passive view (Discovery learns
    // every entry it hears of, and syncs with peers outside its view).
    const upkeep = () => {
      node.hv.topUp();
      if (this.random() < 0.05) {
        node.hv.learn(this.byIndex[Math.floor(this.random() * this.byIndex.length)].info);
      }
      this.time.after(400 + 200 * this.random(), upkeep);
    };
    this.time.after(500 * this.random(), upkeep);
    this.nodes.set(id, node);
    this.byIndex.push(node);
    return node;
  }
  send(from: Node, to: PeerId, m: Msg): void {
    this.counts[m.kind] = (this.counts[m.kind] ?? 0) + 1;
    if (m.kind === "gossip") this.bytes += m.payload.byteLength;
    const key = `${from.info.id}>${to}`;
    const at = Math.max(this.#last.get(key) ?? 0, this.time.now() + 1 + 2 * this.random());
    this.#last.set(key, at);
    this.time.after(at - this.time.now(), () => {
      const target = this.nodes.get(to);
      if (!target) return from.hv.failed(to);
      target.received++;
      if (m.kind === "gossip" || m.kind === "ihave" || m.kind === "graft" || m.kind === "prune") {
        target.pt.handle(from.info.id, m);
      } else target.hv.handle(from.info.id, m);
    });
  }
  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

function idOf(payload: Uint8Array): string {
  return String(new DataView(payload.buffer, payload.byteOffset).getUint32(0));
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(1)}, min ${s[0]}, p99 ${s[Math.floor(s.length * 0.99)]}, max ${
    s[s.length - 1]
  }`;
};

/** A typical entry: two addresses, three tags, two streams, two groups, a coordinate. */
function typicalEntry(key: SecretKey, i: number): SignedPeerEntry {
  const entry: PeerEntry = {
    network: networkId("scale"),
    peerId: key.peerId,
    version: { start: 1_700_000_000_000, counter: 1_700_000_000_000 + i },
    addresses: [`10.0.${i >> 8 & 255}.${i & 255}:4000`, `[fd00::${i.toString(16)}]:4000`],
    tags: ["role:worker", "region:eu", "v2"].map((t) => tag(t)).sort(),
    streams: [tag("prices"), tag("orders")].sort() as unknown as PeerEntry["streams"],
    groups: [tag("g1"), tag("g2")].sort() as unknown as PeerEntry["groups"],
    tickets: [],
    coordinate: { vec: [1.5, -2.25, 3.125], height: 0.5, error: 0.2 },
  } as unknown as PeerEntry;
  return signEntry(key, entry);
}

function gossip(n: number, entryBytes: Uint8Array): void {
  const o = new Overlay(n);
  const nodes: Node[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const node = o.add(i);
    nodes.push(node);
    if (i > 0) node.hv.join(nodes[Math.floor(o.random() * i)].info);
    o.time.run(o.time.now() + 5);
  }
  o.time.run(o.time.now() + 5000);
  const joinMsgs = o.total();
  // In a live network re-announcements keep a broadcast tree: one broadcast
  // builds it.
  const warmUp = new Uint8Array(4);
  new DataView(warmUp.buffer).setUint32(0, 0xffffffff);
  nodes[0].pt.broadcast(warmUp);
  o.time.run(o.time.now() + 2000);
  for (const x of nodes) x.delivered.clear();
  const before = o.total();
  const minute = 60_000;
  o.time.run(o.time.now() + 3 * minute);
  const steady = (o.total() - before) / n / 3;
  const active = nodes.map((x) => x.hv.active.size);
  const passive = nodes.map((x) => x.hv.passive.size);
  // Broadcasts of a real signed entry, prefixed by a 4-byte id.
  const counts0 = { ...o.counts };
  const received0 = nodes.map((x) => x.received);
  const broadcasts = 20;
  const sent: number[] = [];
  for (let b = 0; b < broadcasts; b++) {
    const payload = new Uint8Array(4 + entryBytes.length);
    new DataView(payload.buffer).setUint32(0, b);
    payload.set(entryBytes, 4);
    const from = nodes[Math.floor(o.random() * n)];
    sent.push(o.time.now());
    from.pt.broadcast(payload);
    o.time.run(o.time.now() + 2000);
  }
  const per = (k: string) => ((o.counts[k] ?? 0) - (counts0[k] ?? 0)) / broadcasts / n;
  const recvPer = nodes.map((x, i) => (x.received - received0[i]) / broadcasts);
  let delivered = 0;
  const latency: number[] = [];
  for (let b = 0; b < broadcasts; b++) {
    for (const x of nodes) {
      const at = x.delivered.get(String(b));
      if (at !== undefined) {
        delivered++;
        latency.push(Math.round(at - sent[b]));
      }
    }
  }
  const byId = new Map(nodes.map((x) => [x.info.id, x]));
  const component = new Map<PeerId, number>();
  let components = 0;
  for (const x of nodes) {
    if (component.has(x.info.id)) continue;
    components++;
    const todo = [x];
    component.set(x.info.id, components);
    while (todo.length) {
      for (const p of todo.pop()!.hv.active.keys()) {
        if (!component.has(p)) {
          component.set(p, components);
          todo.push(byId.get(p)!);
        }
      }
    }
  }
  const missing = nodes.filter((x) => x.delivered.size < broadcasts - 1).length;
  console.log(`\n### gossip, ${n} nodes (${Math.round(performance.now() - t0)} ms wall)`);
  console.log(`active view: ${stats(active)}; passive view: ${stats(passive)}`);
  console.log(`join: ${(joinMsgs / n).toFixed(1)} HyParView messages per joining node`);
  console.log(
    `steady state (shuffles, no churn): ${steady.toFixed(2)} messages per node per minute`,
  );
  console.log(
    `per broadcast, per node: ${per("gossip").toFixed(2)} payloads, ${
      per("ihave").toFixed(2)
    } IHAVE, ${per("graft").toFixed(3)} GRAFT, ${per("prune").toFixed(3)} PRUNE; received ${
      stats(recvPer.map((x) => Math.round(x * 10) / 10))
    }`,
  );
  console.log(
    `delivered ${delivered} of ${broadcasts * (n - 1)} (the sender does not deliver its own);` +
      ` first-delivery latency (1–3 ms per hop) ${stats(latency)}`,
  );
  console.log(
    `overlay components (active views): ${components}; nodes that missed a broadcast: ${missing}`,
  );
}

function catalogMemory(n: number): { entry: number; summary: number } {
  const keys = Array.from({ length: n }, () => SecretKey.generate());
  const signed = keys.map((k, i) => typicalEntry(k, i));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const h0 = Deno.memoryUsage().heapUsed;
  const local = SecretKey.generate();
  const catalog = new Catalog(networkId("scale"), local.peerId, {
    purgeAfter: 1e15,
    maxDrift: 1e15,
  });
  // The catalog holds decoded entries and their bytes: rebuild both, as a node does.
  const copies = signed.map((s) => ({ entry: structuredClone(s.entry), bytes: s.bytes.slice() }));
  for (const s of copies) catalog.upsert(s as SignedPeerEntry);
  gc?.();
  const heap = (Deno.memoryUsage().heapUsed - h0) / n;
  const summary = encodeSummary(signed.map((s) => s.entry)).byteLength / n;
  console.log(
    `\n### catalog, ${n} real signed entries${gc ? "" : " (run with --v8-flags=--expose-gc)"}`,
  );
  console.log(
    `wire bytes per entry ${signed[0].bytes.byteLength}; heap per entry ${Math.round(heap)} B; ` +
      `sync summary ${summary.toFixed(1)} B per entry; catalog size ${catalog.peers().length}`,
  );
  return { entry: signed[0].bytes.byteLength, summary };
}

/** Kademlia lookups over `n` random 64-bit ids (enough for n ≪ 2^32): hops and queries. */
function kademlia(n: number, lookups = 200): void {
  const random = rng(n + 7);
  const ids = Array.from({ length: n }, () => {
    return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  });
  const k = 8;
  // Routing table of a node: the first k ids of every bucket (ids sharing
  // exactly b leading bits with it), found by binary search in the sorted ids.
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lowerBound = (x: bigint) => {
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const tables = new Map<bigint, bigint[]>();
  const table = (self: bigint): bigint[] => {
    let t = tables.get(self);
    if (t) return t;
    t = [];
    for (let b = 0; b < 64; b++) {
      const shift = BigInt(63 - b);
      const low = ((self >> shift) ^ 1n) << shift;
      const high = low + (1n << shift);
      const first = lowerBound(low);
      for (let i = first; i < sorted.length && sorted[i] < high && i - first < k; i++) {
        t.push(sorted[i]);
      }
    }
    tables.set(self, t);
    return t;
  };
  const queries: number[] = [];
  const hops: number[] = [];
  for (let l = 0; l < lookups; l++) {
    const start = ids[Math.floor(random() * n)];
    const target = ids[Math.floor(random() * n)] ^ BigInt(Math.floor(random() * 1000));
    const dist = (x: bigint) => x ^ target;
    const asked = new Set<bigint>();
    let shortlist = [...table(start)].sort((a, b) => (dist(a) < dist(b) ? -1 : 1)).slice(0, k);
    let q = 0, h = 0;
    for (;;) {
      const next = shortlist.filter((x) => !asked.has(x)).slice(0, 3);
      if (!next.length) break;
      h++;
      for (const x of next) {
        asked.add(x);
        q++;
        shortlist.push(...table(x));
      }
      shortlist = [...new Set(shortlist)].sort((a, b) => (dist(a) < dist(b) ? -1 : 1)).slice(0, k);
    }
    queries.push(q);
    hops.push(h);
  }
  console.log(`\n### DHT lookups, ${n} ids, k = 8, alpha = 3 (${lookups} lookups)`);
  console.log(`rounds ${stats(hops)}; queries ${stats(queries)}`);
}

async function groups(members: number, load: boolean): Promise<void> {
  const counts: Record<string, number> = {};
  const sim = new Sim({
    seed: members,
    nodes: 0,
    replica: {
      bootstrapExpect: members,
      statusTicks: 6,
      raft: { electionTicks: 12, heartbeatTicks: 2, maxEntriesPerMsg: 512, maxInflight: 64 },
    },
  });
  for (let i = 0; i < members; i++) sim.add(`n${i}`);
  await sim.until(() => sim.leader() !== undefined && sim.leader()!.applied > 0);
  for (const n of sim.nodes.values()) {
    const r = n.replica!;
    const send = r.opts.send;
    r.opts.send = (to, m) => {
      counts[m.type] = (counts[m.type] ?? 0) + 1;
      send(to, m);
    };
  }
  const ticks = 400; // 10 s at 25 ms per tick
  let stop = false;
  const writer = async () => {
    let i = 0;
    while (load && !stop) {
      await sim.leader()?.execute([["put", `k${i % 10}`, i++]]).catch(() => {});
    }
  };
  const w = writer();
  await sim.run(ticks * 10);
  stop = true;
  await sim.run(200);
  await w;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const seconds = ticks * 25 / 1000;
  const detail = Object.entries(counts).map(([k, v]) => `${k} ${(v / seconds).toFixed(0)}`).join(
    ", ",
  );
  console.log(
    `${members} members${load ? ", one writer in a closed loop" : ", idle"}: ` +
      `${
        (total / members / seconds).toFixed(1)
      } messages sent per member per second (${detail} /s in all)`,
  );
}

const sizes = (Deno.args[0] ?? "200,1000,10000").split(",").map(Number);
const e = catalogMemory(2000);
const entryBytes = typicalEntry(SecretKey.generate(), 1).bytes;
console.log(
  `(entry payload used in broadcasts: ${entryBytes.byteLength} B; summary ${
    e.summary.toFixed(1)
  } B/entry)`,
);
for (const n of sizes) gossip(n, entryBytes);
for (const n of [1000, 10_000, 100_000]) kademlia(n);
console.log("\n### groups (default timing: 25 ms ticks, heartbeat every 2, status every 6)");
for (const m of [3, 5]) for (const load of [false, true]) await groups(m, load);
