// Unit tests of the HyParView and Plumtree state machines on an in-memory
// message bus with virtual time (no transport).
import assert from "node:assert/strict";
import type { PeerId } from "@mosaik/transport";
import { payloadId } from "./_wire.ts";
import { type HvMessage, HyParView, type PeerInfo } from "./_hyparview.ts";
import { Plumtree, type PtMessage } from "./_plumtree.ts";
import { every, VirtualScheduler } from "./_scheduler.ts";

type Msg = HvMessage | PtMessage;

class Node {
  hv: HyParView;
  pt: Plumtree;
  delivered: string[] = [];
  dead = false;
  constructor(readonly info: PeerInfo, bus: Bus, mode: "plumtree" | "flood") {
    const io = {
      send: (to: PeerId, m: Msg) => bus.send(this, to, m),
    };
    this.hv = new HyParView(
      info,
      { shuffleInterval: 1000 },
      {
        send: (to, m) => io.send(to.id, m),
        release: () => {},
        neighborUp: (p) => this.pt.neighborUp(p.id),
        neighborDown: (p) => this.pt.neighborDown(p),
        distance: bus.distance && ((p) => bus.distance!(info.id, p)),
      },
      bus.time,
      bus.random,
    );
    every(bus.time, 500, 0, () => this.hv.topUp()); // as Discovery's upkeep does
    this.pt = new Plumtree({ mode }, {
      send: (to, m) => io.send(to, m),
      deliver: (payload) => {
        this.delivered.push(new TextDecoder().decode(payload));
        return true;
      },
      id: payloadId,
    }, bus.time);
  }
  handle(from: PeerId, m: Msg): void {
    if (m.kind === "gossip" || m.kind === "ihave" || m.kind === "graft" || m.kind === "prune") {
      this.pt.handle(from, m);
    } else this.hv.handle(from, m);
  }
}

class Bus {
  time = new VirtualScheduler();
  constructor(readonly distance?: (a: PeerId, b: PeerId) => number, seed = 42) {
    this.#seed = seed;
  }
  nodes = new Map<PeerId, Node>();
  counts: Record<string, number> = {};
  #last = new Map<string, number>();
  #seed: number;
  random = (): number => {
    this.#seed = (this.#seed * 1103515245 + 12345) & 0x7fffffff;
    return this.#seed / 0x80000000;
  };
  send(from: Node, to: PeerId, m: Msg): void {
    this.counts[m.kind] = (this.counts[m.kind] ?? 0) + 1;
    // Links are FIFO per ordered pair, like a QUIC stream.
    const key = `${from.info.id}>${to}`;
    const at = Math.max(this.#last.get(key) ?? 0, this.time.now() + 1 + this.random());
    this.#last.set(key, at);
    this.time.after(at - this.time.now(), () => {
      const target = this.nodes.get(to);
      if (from.dead) return;
      if (!target || target.dead) {
        from.hv.failed(to);
        return;
      }
      target.handle(from.info.id, structuredClone(m));
    });
  }
}

function network(
  n: number,
  mode: "plumtree" | "flood" = "plumtree",
  distance?: (a: PeerId, b: PeerId) => number,
  seed?: number,
): { bus: Bus; nodes: Node[] } {
  const bus = new Bus(distance, seed);
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const id = `peer${String(i).padStart(3, "0")}` as PeerId;
    const node = new Node({ id, addresses: [`127.0.0.1:${i}`] }, bus, mode);
    bus.nodes.set(id, node);
    nodes.push(node);
  }
  for (let i = 1; i < n; i++) {
    nodes[i].hv.join(nodes[0].info);
    bus.time.run(bus.time.now() + 5);
  }
  bus.time.run(bus.time.now() + 3000);
  return { bus, nodes };
}

function connected(nodes: Node[]): boolean {
  const alive = nodes.filter((n) => !n.dead);
  const seen = new Set<PeerId>([alive[0].info.id]);
  const todo = [alive[0]];
  const byId = new Map(alive.map((n) => [n.info.id, n]));
  while (todo.length) {
    const n = todo.pop()!;
    for (const p of n.hv.active.keys()) {
      const m = byId.get(p);
      if (m && !seen.has(p)) {
        seen.add(p);
        todo.push(m);
      }
    }
  }
  return seen.size === alive.length;
}

Deno.test("hyparview: 40 nodes form a connected, symmetric overlay with bounded views", () => {
  const { nodes } = network(40);
  for (const n of nodes) {
    assert.ok(n.hv.active.size >= 1 && n.hv.active.size <= 5, `active ${n.hv.active.size}`);
    assert.ok(n.hv.passive.size <= 30);
    for (const p of n.hv.active.keys()) {
      const other = nodes.find((m) => m.info.id === p)!;
      assert.ok(other.hv.active.has(n.info.id), "active views are symmetric");
    }
  }
  assert.ok(connected(nodes));
  const withPassive = nodes.filter((n) => n.hv.passive.size > 0).length;
  assert.ok(withPassive > 30, "shuffles fill passive views");
});

Deno.test("hyparview: the overlay repairs itself after a third of the nodes fail", () => {
  const { bus, nodes } = network(30);
  for (let i = 1; i < 30; i += 3) nodes[i].dead = true;
  // Failures are noticed on the next send; shuffles send periodically.
  for (const n of nodes) {
    if (n.dead) continue;
    for (const p of [...n.hv.active.keys()]) if (bus.nodes.get(p)!.dead) n.hv.failed(p);
  }
  bus.time.run(bus.time.now() + 5000);
  const alive = nodes.filter((n) => !n.dead);
  for (const n of alive) {
    assert.ok(n.hv.active.size >= 1, "every live node has a neighbour");
    for (const p of n.hv.active.keys()) assert.ok(!bus.nodes.get(p)!.dead);
  }
  assert.ok(connected(nodes));
});

Deno.test("hyparview: near slots pull the nearest peers into the active view; the overlay stays connected", () => {
  // 40 nodes on a ring; the RTT grows with the distance along it.
  const n = 40;
  const at = (id: PeerId) => Number(id.slice(4));
  const ring = (a: PeerId, b: PeerId) => {
    const d = Math.abs(at(a) - at(b));
    return 1 + Math.min(d, n - d);
  };
  // The mean RTT to a node's two nearest neighbours (2 when both ring neighbours are in).
  const nearestTwo = (nodes: Node[]) =>
    nodes.reduce((sum, x) => {
      const ds = [...x.hv.active.keys()].map((p) => ring(x.info.id, p)).sort((a, b) => a - b);
      return sum + (ds[0] + (ds[1] ?? ds[0])) / 2;
    }, 0) / nodes.length;
  // Over five seeds: one run's figure depends on its seed more than on the
  // rules (the first version's bound, p < r / 2, held for seed 42 alone).
  let [r, p] = [0, 0];
  for (let seed = 1; seed <= 5; seed++) {
    const random = network(n, "plumtree", undefined, seed);
    const near = network(n, "plumtree", ring, seed);
    for (const { bus } of [random, near]) bus.time.run(bus.time.now() + 60_000); // ~60 shuffle rounds
    for (const nodes of [random.nodes, near.nodes]) {
      assert.ok(connected(nodes));
      for (const x of nodes) assert.ok(x.hv.active.size >= 1 && x.hv.active.size <= 5);
    }
    r += nearestTwo(random.nodes) / 5;
    p += nearestTwo(near.nodes) / 5;
  }
  assert.ok(p < 2.4 && p < r * 0.6, `two nearest neighbours: ${p} with near slots, ${r} without`);
});

Deno.test("plumtree: every node delivers exactly once; the tree beats flooding", () => {
  const results: Record<string, number> = {};
  for (const mode of ["plumtree", "flood"] as const) {
    const { bus, nodes } = network(40, mode);
    const enc = new TextEncoder();
    // Warm-up broadcasts shape the tree.
    for (let k = 0; k < 3; k++) {
      nodes[k].pt.broadcast(enc.encode(`warm${k}`));
      bus.time.run(bus.time.now() + 500);
    }
    const before = bus.counts.gossip ?? 0;
    const rounds = 10;
    for (let k = 0; k < rounds; k++) {
      nodes[(k * 7) % 40].pt.broadcast(enc.encode(`msg${k}`));
      bus.time.run(bus.time.now() + 500);
    }
    for (const n of nodes) {
      const got = n.delivered.filter((d) => d.startsWith("msg"));
      const own = Array.from({ length: rounds }, (_, k) =>
        (k * 7) % 40).filter((i) => nodes[i] === n).length;
      assert.equal(got.length, rounds - own, `${mode}: delivered each broadcast once`);
      assert.equal(new Set(got).size, got.length);
    }
    results[mode] = ((bus.counts.gossip ?? 0) - before) / rounds;
  }
  // A spanning tree needs n - 1 = 39 payload messages; flooding sends about
  // (average degree - 1) × n.
  assert.ok(results.plumtree < 39 * 1.3, `plumtree ${results.plumtree}`);
  assert.ok(results.flood > results.plumtree * 1.8, `flood ${results.flood}`);
});

Deno.test("plumtree: lazy links heal the tree when tree nodes crash", () => {
  const { bus, nodes } = network(30);
  const enc = new TextEncoder();
  for (let k = 0; k < 3; k++) {
    nodes[0].pt.broadcast(enc.encode(`warm${k}`));
    bus.time.run(bus.time.now() + 500);
  }
  // Crash the inner tree nodes with the most eager links (nobody is told).
  const inner = nodes.slice(1).sort((a, b) => b.pt.eager.size - a.pt.eager.size).slice(0, 3);
  for (const n of inner) n.dead = true;
  nodes[0].pt.broadcast(enc.encode("after"));
  bus.time.run(bus.time.now() + 2000);
  for (const n of nodes) {
    if (!n.dead && n !== nodes[0]) assert.ok(n.delivered.includes("after"), n.info.id);
  }
  assert.ok((bus.counts.graft ?? 0) > 0, "grafts repaired the tree");
});

Deno.test("hyparview: refused top-ups back off until a neighbour is lost", () => {
  const time = new VirtualScheduler();
  const asked: PeerId[] = [];
  const peer = (i: number): PeerInfo => ({
    id: `peer${i}` as PeerId,
    addresses: [`127.0.0.1:${i}`],
  });
  const hv: HyParView = new HyParView(peer(0), { shuffleInterval: 60_000 }, {
    send: (to, m) => {
      if (m.kind !== "neighbor") return;
      asked.push(to.id);
      // every view out there is full: the request is refused
      time.after(1, () => hv.handle(to.id, { kind: "disconnect", alive: true }));
    },
    release: () => {},
    neighborUp: () => {},
    neighborDown: () => {},
  }, time);
  hv.join(peer(1));
  for (let i = 2; i < 30; i++) hv.learn(peer(i));
  every(time, 500, 0, () => hv.topUp());
  time.run(20_000);
  // 1, 2, 4 and 8 s after the first refusals instead of every 500 ms
  assert.ok(asked.length >= 3 && asked.length <= 6, `${asked.length} requests in 20 s`);
  const before = asked.length;
  hv.failed(peer(1).id); // the only neighbour: the view is empty, ask at once
  assert.ok(asked.length > before, "a lost neighbour is replaced without waiting");
});

Deno.test("hyparview: a node with under half a view asks connected peers first", () => {
  const peer = (i: number): PeerInfo => ({
    id: `peer${i}` as PeerId,
    addresses: [`127.0.0.1:${i}`],
  });
  const start = (neighbours: number) => {
    const time = new VirtualScheduler();
    const asked: PeerId[] = [];
    // `random` 0 picks the first candidate, peer 2, unless the choice is narrowed
    const hv: HyParView = new HyParView(
      peer(0),
      { shuffleInterval: 60_000 },
      {
        send: (to, m) => {
          if (m.kind === "neighbor") asked.push(to.id);
        },
        release: () => {},
        neighborUp: () => {},
        neighborDown: () => {},
        connected: (p) => p === peer(7).id,
      },
      time,
      () => 0,
    );
    hv.join(peer(1));
    for (let i = 2; i < 30; i++) hv.learn(peer(i));
    for (let i = 0; i < neighbours; i++) {
      hv.handle(peer(30 + i).id, { kind: "neighbor", peer: peer(30 + i), high: false });
    }
    asked.length = 0; // accepting a request answers it
    hv.topUp();
    return asked;
  };
  assert.deepEqual(start(0), [peer(7).id], "one neighbour of five: the connected peer");
  assert.deepEqual(start(1), [peer(7).id], "two of five: the connected peer");
  assert.deepEqual(start(2), [peer(2).id], "three of five: any peer");
});
