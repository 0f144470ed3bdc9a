// Deterministic simulation of replicas for unit tests of the pure core:
// seeded randomness and virtual time; message delays (short, or long enough
// to span many election timeouts), drops, duplicates and reordering;
// partitions; nodes ticking at different rates (clock skew) and freezing for
// a while; crashes (possibly in the middle of a write), restarts on the same
// storage and disk loss. Not used by the real transport.
import type { NodeId } from "./_messages.ts";
import type { ReplicaMessage, ReplicaOptions } from "./_replica_types.ts";
import { Replica } from "./_replica.ts";
import type { Storage } from "./storage.ts";
import { MemoryStorage } from "./storage.ts";
import { SimCrash, SimDisk } from "./_sim_disk.ts";
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
  storage: SimDisk;
  replica: Replica | undefined;
  sm: KV;
  /** Time units between ticks (10 by default; others model clock skew). */
  period: number;
  nextTick: number;
  /** Frozen (no ticks, deliveries held back) until this time. */
  pausedUntil: number;
  /** A crash waits for the node's next write, which it tears; since when. */
  tearArmedAt: number | undefined;
  /** How many times the node started. */
  run: number;
}

interface InFlight {
  from: NodeId;
  to: NodeId;
  msg: ReplicaMessage;
  /** Runs (starts) of sender and receiver when sent: a retransmission needs both alive since. */
  fromRun: number;
  toRun: number;
}

interface Timer {
  at: number;
  node?: SimNode;
  fn: () => void;
}

/** Options of {@linkcode Sim}. */
export interface SimOptions {
  seed: number;
  nodes: number;
  /** Message delay range in time units (a tick is 10 units). */
  minDelay?: number;
  maxDelay?: number;
  drop?: number;
  /** Probability that a message is held back `longDelay` units instead (reordering it). */
  longDelayRate?: number;
  /** Range of long delays; default 200..1500 units (2 to 15 election timeouts). */
  longDelay?: [number, number];
  /** Probability that a message is delivered twice (the copy with its own delay). */
  duplicate?: number;
  /**
   * Probability that a message meeting a cut link is retransmitted once the
   * link heals (as QUIC does while both ends live) instead of being lost;
   * with it, messages in flight from a node that crashed still arrive.
   */
  linger?: number;
  /** Range of the delay of a leader's own log write (its fsync); default 1 unit. */
  fsync?: [number, number];
  replica?: Partial<ReplicaOptions>;
  storage?: (id: NodeId) => Storage;
  /** Called for each command applied on any node: "index.offset" and command. */
  onApply?: (node: NodeId, position: string, cmd: unknown) => void;
}

/** Time units a crash armed for the next write waits before it happens anyway. */
const TEAR_WAIT = 300;

/** A simulated cluster. */
export class Sim {
  readonly random: () => number;
  readonly nodes = new Map<NodeId, SimNode>();
  time = 0;
  #queue = new Map<number, InFlight[]>();
  #cut = new Set<string>();
  readonly opts: SimOptions;
  #timers: Timer[] = [];
  #driving: SimNode | undefined;
  /** Messages waiting for a cut link to heal. */
  #held: InFlight[] = [];

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.random = rng(opts.seed);
    for (let i = 0; i < opts.nodes; i++) this.add(`n${i}`);
  }

  add(id: NodeId, start = true, options?: Partial<ReplicaOptions>): SimNode {
    const node: SimNode = {
      id,
      storage: undefined as unknown as SimDisk,
      replica: undefined,
      sm: new KV(),
      period: 10,
      nextTick: this.time + 10 - (this.time % 10),
      pausedUntil: 0,
      tearArmedAt: undefined,
      run: 0,
    };
    node.storage = new SimDisk(
      this.opts.storage?.(id) ?? new MemoryStorage(),
      () => this.#driving === node && node.tearArmedAt !== undefined,
      this.random,
    );
    this.nodes.set(id, node);
    if (start) this.start(id, options);
    return node;
  }

  start(id: NodeId, options?: Partial<ReplicaOptions>): Replica {
    const node = this.nodes.get(id)!;
    node.sm = new KV((position, cmd) => this.opts.onApply?.(id, position, cmd));
    node.tearArmedAt = undefined;
    node.pausedUntil = 0;
    node.run++;
    const seedRng = rng(Math.floor(this.random() * 2 ** 32));
    node.replica = new Replica({
      id,
      storage: node.storage,
      stateMachine: node.sm,
      random: seedRng,
      send: (to, msg) => this.#send(id, to, msg),
      formationTicks: 20,
      // The nodes created with the simulation form it together.
      bootstrapExpect: this.opts.nodes || undefined,
      graceTicks: 1_000_000,
      retryTicks: 20,
      timeoutTicks: 300,
      statusTicks: 5,
      snapshotEvery: 50,
      maxSessions: 1000,
      clientId: `${id}-${Math.floor(seedRng() * 1e9)}`,
      catchUpGap: 10,
      fetchBatch: 8,
      snapshotPieceBytes: 256,
      defer: (fn) => this.#timers.push({ at: this.time + this.#fsyncDelay(), node, fn }),
      later: (fn) => this.#timers.push({ at: this.time + 1, node, fn }),
      raft: { electionTicks: 10, heartbeatTicks: 2, maxEntriesPerMsg: 8, maxInflight: 4 },
      ...this.opts.replica,
      ...options,
    });
    this.#refreshBonds();
    return node.replica;
  }

  /**
   * Crashes a node: its volatile state is lost, storage survives. With
   * `torn`, the crash happens during the node's next write (part of the
   * write reaches the disk, nothing that depends on it is sent), or after
   * a while if it writes nothing.
   */
  crash(id: NodeId, torn = false): void {
    const node = this.nodes.get(id)!;
    if (torn && node.replica) {
      node.tearArmedAt ??= this.time;
      return;
    }
    node.tearArmedAt = undefined;
    node.replica?.close();
    node.replica = undefined;
    this.#refreshBonds();
  }

  /** Crashes a node and erases its storage (disk loss); it stays down until started. */
  wipe(id: NodeId): void {
    this.crash(id);
    this.nodes.get(id)!.storage.reset();
  }

  /** Freezes a node for `units`: it neither ticks nor receives; messages to it wait. */
  pause(id: NodeId, units: number): void {
    const node = this.nodes.get(id)!;
    node.pausedUntil = Math.max(node.pausedUntil, this.time + units);
  }

  /** Sets the node's tick period in time units (10 is nominal). */
  setClock(id: NodeId, period: number): void {
    this.nodes.get(id)!.period = Math.max(1, Math.round(period));
  }

  /** Whether the node is running (a crash armed for its next write counts as running). */
  isUp(id: NodeId): boolean {
    return !!this.nodes.get(id)?.replica;
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

  /** Cuts the link between `a` and `b` only (both directions). */
  cut(a: NodeId, b: NodeId): void {
    this.#cut.add(`${a}|${b}`).add(`${b}|${a}`);
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
    if (!this.#held.length) return;
    const held = this.#held;
    this.#held = [];
    for (const m of held) {
      const a = this.nodes.get(m.from)!, b = this.nodes.get(m.to)!;
      if (!a.replica || !b.replica || a.run !== m.fromRun || b.run !== m.toRun) continue;
      if (this.#cut.has(`${m.from}|${m.to}`)) this.#held.push(m);
      else this.#enqueue(this.time + this.#between(this.#short), m);
    }
  }

  #hold(m: InFlight): void {
    const linger = this.opts.linger;
    if (linger && this.random() < linger && this.#held.length < 10_000) this.#held.push(m);
  }

  get #short(): [number, number] {
    return [this.opts.minDelay ?? 1, this.opts.maxDelay ?? 5];
  }

  #between([min, max]: [number, number]): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  #fsyncDelay(): number {
    const f = this.opts.fsync;
    return f && f[1] > f[0] ? this.#between(f) : f?.[0] ?? 1;
  }

  #enqueue(at: number, m: InFlight): void {
    const bucket = this.#queue.get(at);
    if (bucket) bucket.push(m);
    else this.#queue.set(at, [m]);
  }

  #send(from: NodeId, to: NodeId, msg: ReplicaMessage): void {
    const a = this.nodes.get(from), b = this.nodes.get(to);
    if (!a?.replica || !b?.replica) return;
    const m: InFlight = { from, to, msg, fromRun: a.run, toRun: b.run };
    if (this.#cut.has(`${from}|${to}`)) return this.#hold(m);
    const o = this.opts;
    if (o.drop && this.random() < o.drop) return;
    const delay = () =>
      o.longDelayRate && this.random() < o.longDelayRate
        ? this.#between(o.longDelay ?? [200, 1500])
        : this.#between(this.#short);
    this.#enqueue(this.time + delay(), m);
    if (o.duplicate && this.random() < o.duplicate) {
      this.#enqueue(this.time + delay(), { ...m, msg: structuredClone(msg) });
    }
  }

  /** Runs `fn` as `node`'s own work: a torn write there crashes the node. */
  #drive(node: SimNode, fn: () => void): void {
    this.#driving = node;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof SimCrash)) throw e;
      this.#driving = undefined;
      this.crash(node.id);
    } finally {
      this.#driving = undefined;
    }
  }

  /** Advances virtual time by `units`, delivering messages and ticking every node's period. */
  async run(units: number): Promise<void> {
    const end = this.time + units;
    while (this.time < end) {
      this.time++;
      const due = this.#queue.get(this.time);
      if (due) {
        this.#queue.delete(this.time);
        for (const m of due) {
          const node = this.nodes.get(m.to)!;
          if (!node.replica) continue;
          if (this.#cut.has(`${m.from}|${m.to}`)) {
            this.#hold(m);
            continue;
          }
          if (!this.opts.linger && !this.nodes.get(m.from)!.replica) continue;
          if (node.pausedUntil > this.time) this.#enqueue(node.pausedUntil, m);
          else this.#drive(node, () => node.replica!.receive(m.from, m.msg));
        }
      }
      if (this.#timers.length && this.#timers.some((t) => t.at <= this.time)) {
        const due = this.#timers.filter((t) => t.at <= this.time);
        this.#timers = this.#timers.filter((t) => t.at > this.time);
        for (const t of due) {
          const node = t.node;
          if (!node) t.fn();
          else if (node.pausedUntil > this.time) this.#timers.push({ ...t, at: node.pausedUntil });
          else this.#drive(node, t.fn);
        }
      }
      for (const n of this.nodes.values()) {
        if (!n.replica || n.pausedUntil > this.time) continue;
        if (n.tearArmedAt !== undefined && this.time - n.tearArmedAt > TEAR_WAIT) {
          this.crash(n.id);
          continue;
        }
        if (this.time < n.nextTick) continue;
        n.nextTick = this.time + n.period;
        const r = n.replica;
        this.#drive(n, () => r.tick());
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
