// Deterministic simulation of replicas for unit tests of the pure core:
// seeded randomness, virtual time, message delays, drops, partitions,
// crashes and restarts on the same storage. Not used by the real transport.
import type { NodeId } from "./_raft.ts";
import type { ReplicaMessage, ReplicaOptions } from "./_replica.ts";
import { Replica } from "./_replica.ts";
import type { Storage } from "./storage.ts";
import { MemoryStorage } from "./storage.ts";
import type { ApplyContext, StateMachine } from "./state_machine.ts";

/** A small, fast seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** KV state machine for tests; records what it applied at which index. */
export class KV
  implements
    StateMachine<[string, string, unknown?], unknown, string, unknown, [string, unknown][]> {
  readonly name = "kv/v1";
  data = new Map<string, unknown>();
  constructor(readonly record?: (position: string, cmd: unknown) => void) {}
  apply(cmd: [string, string, unknown?], ctx: ApplyContext): unknown {
    this.record?.(`${ctx.index}.${ctx.offset}`, cmd);
    const [op, k, v] = cmd;
    if (op === "put") {
      this.data.set(k, v);
      return v;
    }
    if (op === "add") {
      const n = ((this.data.get(k) as number) ?? 0) + (v as number);
      this.data.set(k, n);
      return n;
    }
    return this.data.get(k) ?? null;
  }
  query(k: string): unknown {
    return this.data.get(k) ?? null;
  }
  snapshot(): [string, unknown][] {
    return [...this.data];
  }
  restore(s: [string, unknown][]): void {
    this.data = new Map(s);
  }
}

interface SimNode {
  id: NodeId;
  storage: Storage;
  replica: Replica | undefined;
  sm: KV;
}

interface InFlight {
  at: number;
  seq: number;
  from: NodeId;
  to: NodeId;
  msg: ReplicaMessage;
}

/** Options of {@linkcode Sim}. */
export interface SimOptions {
  seed: number;
  nodes: number;
  /** Message delay range in time units (a tick is 10 units). */
  minDelay?: number;
  maxDelay?: number;
  drop?: number;
  replica?: Partial<ReplicaOptions>;
  storage?: (id: NodeId) => Storage;
  /** Called for each command applied on any node: "index.offset" and command. */
  onApply?: (node: NodeId, position: string, cmd: unknown) => void;
}

/** A simulated cluster. */
export class Sim {
  readonly random: () => number;
  readonly nodes = new Map<NodeId, SimNode>();
  time = 0;
  #queue: InFlight[] = [];
  #seq = 0;
  #cut = new Set<string>();
  readonly opts: SimOptions;
  #timers: { at: number; fn: () => void }[] = [];

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.random = rng(opts.seed);
    for (let i = 0; i < opts.nodes; i++) this.add(`n${i}`);
  }

  add(id: NodeId, start = true): SimNode {
    const node: SimNode = {
      id,
      storage: this.opts.storage?.(id) ?? new MemoryStorage(),
      replica: undefined,
      sm: new KV(),
    };
    this.nodes.set(id, node);
    if (start) this.start(id);
    return node;
  }

  start(id: NodeId): Replica {
    const node = this.nodes.get(id)!;
    node.sm = new KV((position, cmd) => this.opts.onApply?.(id, position, cmd));
    const seedRng = rng(Math.floor(this.random() * 2 ** 32));
    node.replica = new Replica({
      id,
      storage: node.storage,
      stateMachine: node.sm,
      random: seedRng,
      send: (to, msg) => this.#send(id, to, msg),
      formationTicks: 20,
      graceTicks: 1_000_000,
      retryTicks: 20,
      timeoutTicks: 300,
      statusTicks: 5,
      snapshotEvery: 50,
      maxSessions: 1000,
      clientId: `${id}-${Math.floor(seedRng() * 1e9)}`,
      catchUpGap: 10,
      fetchBatch: 8,
      defer: (fn) => this.#timers.push({ at: this.time + 1, fn }),
      raft: { electionTicks: 10, heartbeatTicks: 2, maxEntriesPerMsg: 8, maxInflight: 4 },
      ...this.opts.replica,
    });
    this.#refreshBonds();
    return node.replica;
  }

  /** Crashes a node: its volatile state is lost, storage survives. */
  crash(id: NodeId): void {
    const node = this.nodes.get(id)!;
    node.replica?.close();
    node.replica = undefined;
    this.#refreshBonds();
  }

  replica(id: NodeId): Replica {
    return this.nodes.get(id)!.replica!;
  }

  alive(): Replica[] {
    return [...this.nodes.values()].flatMap((n) => n.replica ? [n.replica] : []);
  }

  /** Splits the nodes into groups that cannot talk across. */
  partition(...groups: NodeId[][]): void {
    this.#cut.clear();
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]) for (const b of groups[j]) this.#cut.add(`${a}|${b}`);
      }
    }
    this.#refreshBonds();
  }

  heal(): void {
    this.#cut.clear();
    this.#refreshBonds();
  }

  connected(a: NodeId, b: NodeId): boolean {
    return !this.#cut.has(`${a}|${b}`) && !!this.nodes.get(a)?.replica &&
      !!this.nodes.get(b)?.replica;
  }

  #refreshBonds(): void {
    for (const n of this.nodes.values()) {
      if (!n.replica) continue;
      n.replica.setBonds(
        [...this.nodes.keys()].filter((p) => p !== n.id && this.connected(n.id, p)),
      );
    }
  }

  #send(from: NodeId, to: NodeId, msg: ReplicaMessage): void {
    if (!this.connected(from, to)) return;
    if (this.opts.drop && this.random() < this.opts.drop) return;
    const min = this.opts.minDelay ?? 1;
    const max = this.opts.maxDelay ?? 5;
    const at = this.time + min + Math.floor(this.random() * (max - min + 1));
    this.#queue.push({ at, seq: this.#seq++, from, to, msg });
  }

  /** Advances virtual time by `units`, delivering messages and ticking every 10 units. */
  async run(units: number): Promise<void> {
    const end = this.time + units;
    while (this.time < end) {
      this.time++;
      const due = this.#queue.filter((m) => m.at <= this.time);
      if (due.length) {
        this.#queue = this.#queue.filter((m) => m.at > this.time);
        due.sort((a, b) => a.at - b.at || a.seq - b.seq);
        for (const m of due) {
          if (!this.connected(m.from, m.to)) continue;
          this.nodes.get(m.to)!.replica!.receive(m.from, m.msg);
        }
      }
      if (this.#timers.length && this.#timers.some((t) => t.at <= this.time)) {
        const due = this.#timers.filter((t) => t.at <= this.time);
        this.#timers = this.#timers.filter((t) => t.at > this.time);
        for (const t of due) t.fn();
      }
      if (this.time % 10 === 0) {
        for (const n of this.nodes.values()) n.replica?.tick();
      }
      for (let i = 0; i < 8; i++) await Promise.resolve();
    }
  }

  /** Resolves after `units` of virtual time. */
  sleep(units: number): Promise<void> {
    return new Promise((fn) => this.#timers.push({ at: this.time + units, fn }));
  }

  /** Runs until `cond` holds or `limit` units pass; returns whether it held. */
  async until(cond: () => boolean, limit = 10_000): Promise<boolean> {
    const end = this.time + limit;
    while (this.time < end) {
      if (cond()) return true;
      await this.run(10);
    }
    return cond();
  }

  /** The single leader among live nodes, if exactly one of the highest term. */
  leader(): Replica | undefined {
    const leaders = this.alive().filter((r) => r.core.role === "leader");
    if (!leaders.length) return undefined;
    leaders.sort((a, b) => b.core.term - a.core.term);
    return leaders[0];
  }
}
