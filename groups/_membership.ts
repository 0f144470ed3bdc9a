// Membership through the log: the configuration follows the bonds. On the
// leader, departed members are removed, members that lost their storage
// (their status reports a new storage epoch) are re-added as learners with
// it, caught-up learners that asked to vote are promoted, newly bonded
// members are added as learners, and members absent longer than the grace
// period are removed, one change at a time. A member leaves by asking the
// leader to remove it.
import type { NodeId } from "./_messages.ts";
import type { PeerStatus } from "./_formation.ts";
import type { RaftCore } from "./_raft.ts";
import type { Config } from "./storage.ts";
import { TimeoutError } from "./errors.ts";

/** Membership messages between members. */
export type MembershipMessage = { type: "Leave" } | { type: "Left" };

/** What membership needs from its replica; times in ticks. */
export interface MembershipHost {
  core(): RaftCore;
  now(): number;
  bonds(): ReadonlySet<NodeId>;
  status(): ReadonlyMap<NodeId, PeerStatus>;
  send(to: NodeId, msg: MembershipMessage): void;
  readonly graceTicks: number;
  readonly retryTicks: number;
  readonly timeoutTicks: number;
}

interface Leaving {
  resolve: () => void;
  reject: (e: Error) => void;
  sent: number;
  start: number;
}

/** Whether `id` is a voter or learner of `c`. */
export function inConfig(id: NodeId, c: Config | undefined): boolean {
  return !!c && (c.voters.includes(id) || c.learners.includes(id));
}

/** See the file comment. */
export class Membership {
  readonly #host: MembershipHost;
  /** Members that asked to leave; they stay out until their bond drops. */
  readonly #departed = new Set<NodeId>();
  /** Members of the configuration without a bond, since when. */
  readonly #absentSince = new Map<NodeId, number>();
  #leaving: Leaving | undefined;

  constructor(host: MembershipHost) {
    this.#host = host;
  }

  /** A membership message from `from`. */
  receive(from: NodeId, msg: MembershipMessage): void {
    const core = this.#host.core();
    if (msg.type === "Left") {
      this.#leaving?.resolve();
      this.#leaving = undefined;
    } else if (core.role === "leader") {
      if (!inConfig(from, core.configAt(core.commit))) this.#host.send(from, { type: "Left" });
      else this.#departed.add(from);
    }
  }

  /** The bond to `peer` dropped: it may come back as a new member. */
  unbonded(peer: NodeId): void {
    this.#departed.delete(peer);
  }

  /** Removes this member through the log; resolves once it is out. */
  leave(): Promise<void> {
    const core = this.#host.core();
    const c = core.config;
    if (!c || !core.isMember) return Promise.resolve();
    // The last voter cannot be removed: the group simply stops with it.
    if (c.voters.length === 1 && c.voters[0] === core.id) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#leaving = { resolve, reject, sent: -Infinity, start: this.#host.now() };
      this.tick();
    });
  }

  /** Fails a pending leave. */
  close(error: Error): void {
    this.#leaving?.reject(error);
    this.#leaving = undefined;
  }

  /** One tick: resends or expires a pending leave. */
  tick(): void {
    const l = this.#leaving;
    if (!l) return;
    const now = this.#host.now();
    const core = this.#host.core();
    if (now - l.start >= this.#host.timeoutTicks) {
      this.#leaving = undefined;
      l.reject(new TimeoutError("the removal was not confirmed in time"));
    } else if (now - l.sent >= this.#host.retryTicks) {
      l.sent = now;
      if (core.role === "leader") this.#departed.add(core.id);
      else for (const b of this.#host.bonds()) this.#host.send(b, { type: "Leave" }); // only the leader answers
    }
  }

  /** Leader: proposes the most urgent configuration change it may. */
  reconcile(): void {
    const core = this.#host.core();
    if (core.role !== "leader") {
      this.#absentSince.clear();
      return;
    }
    const now = this.#host.now();
    const bonds = this.#host.bonds();
    const config = core.config!;
    for (const m of [...config.voters, ...config.learners]) {
      if (m === core.id || bonds.has(m)) this.#absentSince.delete(m);
      else if (!this.#absentSince.has(m)) this.#absentSince.set(m, now);
    }
    if (!core.canChangeConfig()) return;
    for (const next of this.#changes(core, config)) {
      if (core.proposeConfig(next) !== undefined) return;
    }
  }

  *#changes(core: RaftCore, cfg: Config): Generator<Config> {
    const bonds = this.#host.bonds();
    const status = this.#host.status();
    const match = core.matchIndexes();
    const epochs = (id: NodeId, epoch: string | undefined) => {
      const out = { ...cfg.epochs };
      if (epoch === undefined) delete out[id];
      else out[id] = epoch;
      return out;
    };
    const without = (id: NodeId): Config => ({
      cluster: cfg.cluster,
      voters: cfg.voters.filter((x) => x !== id),
      learners: cfg.learners.filter((x) => x !== id),
      epochs: epochs(id, undefined),
    });
    const asLearner = (id: NodeId, epoch: string | undefined): Config => {
      const c = without(id);
      return { ...c, learners: [...c.learners, id], epochs: epochs(id, epoch) };
    };
    for (const d of this.#departed) {
      if (!inConfig(d, cfg) || (d === core.id && cfg.voters.length === 1)) continue;
      yield without(d);
    }
    for (const m of [...cfg.voters, ...cfg.learners]) {
      const epoch = status.get(m)?.epoch;
      const known = cfg.epochs?.[m];
      if (m === core.id || epoch === undefined || known === undefined || known === epoch) continue;
      yield asLearner(m, epoch); // it lost its storage: remove, re-add as a learner
    }
    for (const l of cfg.learners) {
      const st = status.get(l);
      if (st && !st.learner && bonds.has(l) && (match.get(l) ?? 0) >= core.commit) {
        yield { ...without(l), voters: [...cfg.voters, l], epochs: cfg.epochs };
      }
    }
    for (const p of [...bonds].sort()) {
      const st = status.get(p);
      if (!st || inConfig(p, cfg) || this.#departed.has(p)) continue;
      if (st.cluster !== undefined && st.cluster !== cfg.cluster) continue;
      yield asLearner(p, st.epoch);
    }
    const now = this.#host.now();
    for (const [m, since] of this.#absentSince) {
      if (now - since >= this.#host.graceTicks && inConfig(m, cfg)) yield without(m);
    }
  }
}
