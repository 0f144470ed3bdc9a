// Group formation and cluster incarnations. Bonded members exchange statuses
// (incarnation, commit, learner, how many writes their incarnation holds).
// A blank member forms a group only with an expected size: after a formation
// window (time to bond with the members the catalog shows), once it sees
// that many blank members (itself included) and none of its bonded peers
// belongs to a formed group, the lowest member that may lead writes the
// first configuration with every bonded blank member that is not a learner.
// A member that has voted, or holds anything, never forms a group.
//
// Two sets of members that could not see each other can still form two
// incarnations (each with its own cluster id). When they meet, a member
// whose incarnation holds no write (as far as it knows) gives it up for the
// other one if that one holds writes, or has the lower id when neither does;
// it erases its state and rejoins as a new member. An incarnation holding
// writes is never given up automatically: its members report the conflict
// and keep apart until an operator resolves it.
import type { NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";

/** Conflicting incarnations remembered at most (statuses are peer input: keep it bounded). */
const MAX_CONFLICTS = 16;

/** The status a member sends its bonded peers. */
export type StatusMessage = {
  type: "Status";
  cluster?: string;
  commit: number;
  learner: boolean;
  lead?: string;
  /** Most writes (commands) the sender knows of in its incarnation. */
  best?: number;
  /** The sender never becomes leader. */
  never?: boolean;
  /** The sender's storage epoch. */
  epoch?: string;
  /** The sender may write a first configuration (it has an expected size). */
  forms?: boolean;
};

/** What a bonded peer last told us about itself. */
export interface PeerStatus {
  cluster?: string;
  learner: boolean;
  /** Most writes the peer knows of in its incarnation. */
  best: number;
  /** The peer never becomes leader. */
  never: boolean;
  /** The peer's storage epoch. */
  epoch?: string;
  /** The peer may write a first configuration. */
  forms: boolean;
}

/** What formation needs from its replica. */
export interface FormationHost {
  core(): RaftCore;
  /** The replica's clock in ticks. */
  now(): number;
  bonds(): ReadonlySet<NodeId>;
  /** Writes (commands) our incarnation holds here: applied, or in the log. */
  writes(): number;
  learner(): boolean;
  send(to: NodeId, msg: StatusMessage): void;
  /** Gives up incarnation `mine` for `theirs`: erase everything and start empty. */
  reset(mine: string, theirs: string): void;
  /** Incarnations `mine` and `theirs` (of `peer`) both hold writes: they stay apart. */
  conflict(mine: string, theirs: string, peer: NodeId): void;
  readonly random: () => number;
  /** Blank members (self included) needed to form a group; undefined: never form. */
  readonly bootstrapExpect: number | undefined;
  /** Ticks to wait for bonds before forming. */
  readonly formationTicks: number;
}

/** See the file comment. */
export class Formation {
  readonly #host: FormationHost;
  /** The latest status of every bonded peer. */
  readonly status = new Map<NodeId, PeerStatus>();
  /** Incarnations this member gave up (their members will add it no more). */
  readonly #rejected = new Set<string>();
  /** Incarnations in conflict with ours (reported once each). */
  readonly conflicts = new Set<string>();
  /** Incarnations an operator chose to keep ours over. */
  readonly #dismissed = new Set<string>();
  /** When this member started empty (formation waits a window from here). */
  #start = 0;

  constructor(host: FormationHost) {
    this.#host = host;
  }

  /** Whether messages of incarnation `cluster` are refused (we gave it up). */
  rejects(cluster: string | undefined): boolean {
    return cluster !== undefined && this.#rejected.has(cluster);
  }

  /** A peer's status; incarnations are compared when it reports another one. */
  onStatus(from: NodeId, msg: StatusMessage): void {
    this.status.set(from, {
      cluster: msg.cluster,
      learner: msg.learner,
      best: msg.best ?? 0,
      never: msg.never === true,
      epoch: msg.epoch,
      forms: msg.forms === true,
    });
    this.#compare(from, msg.cluster);
  }

  /** Sends our status to `to`. */
  sendStatus(to: NodeId): void {
    const core = this.#host.core();
    this.#host.send(to, {
      type: "Status",
      cluster: core.cluster,
      commit: core.commit,
      learner: this.#host.learner(),
      lead: core.lead,
      best: this.#best(core.cluster),
      never: core.opts.preference === "never" || undefined,
      epoch: core.epoch,
      forms: this.#host.bootstrapExpect !== undefined || undefined,
    });
  }

  /**
   * The operator's choice in a conflict: keep incarnation `winner`. When it
   * is ours, the other incarnations are no longer reported (their members
   * resolve too, or restart empty); otherwise this member erases its state
   * and rejoins `winner` as a new member.
   */
  resolve(winner: string): void {
    const mine = this.#host.core().cluster;
    if (mine === undefined) return;
    if (winner === mine) {
      for (const c of this.conflicts) this.#dismissed.add(c);
      this.conflicts.clear();
      return;
    }
    const seen = this.conflicts.has(winner) ||
      [...this.status.values()].some((st) => st.cluster === winner);
    if (!seen) throw new RangeError(`no bonded member belongs to incarnation ${winner}`);
    this.#giveUp(mine, winner);
  }

  /** Most writes known of in `cluster` (ours: including our own count). */
  #best(cluster: string | undefined): number {
    if (cluster === undefined) return 0;
    let best = cluster === this.#host.core().cluster ? this.#host.writes() : 0;
    for (const st of this.status.values()) {
      if (st.cluster === cluster && st.best > best) best = st.best;
    }
    return best;
  }

  /** One tick: a blank member bootstraps a group when it should. */
  tick(): void {
    const core = this.#host.core();
    // A member that voted (for a bootstrapper whose configuration it has not
    // received yet) waits for it; a bootstrapper that crashed while writing
    // its first term (no vote, no log) may form again.
    if (core.config || core.lastIndex > 0 || core.vote !== undefined || this.#host.learner()) {
      return;
    }
    if (this.#host.now() - this.#start < this.#host.formationTicks) return;
    const voters = this.#voters();
    if (!voters) return;
    const epochs: Record<NodeId, string> = {};
    for (const v of voters) {
      const epoch = v === core.id ? core.epoch : this.status.get(v)?.epoch;
      if (epoch !== undefined) epochs[v] = epoch;
    }
    core.bootstrap({ cluster: newClusterId(this.#host.random), voters, learners: [], epochs });
    core.campaignNow();
  }

  /** The voters of a new group if this member must write its first configuration now. */
  #voters(): NodeId[] | undefined {
    const expect = this.#host.bootstrapExpect;
    if (expect === undefined) return undefined;
    const core = this.#host.core();
    const known: NodeId[] = [];
    for (const p of this.#host.bonds()) {
      const st = this.status.get(p);
      if (!st) return undefined; // wait until every bonded peer told us its state
      if (st.cluster !== undefined && !this.#rejected.has(st.cluster)) return undefined; // it will add us
      if (st.cluster === undefined && !st.learner) known.push(p);
    }
    const members = [core.id, ...known].sort();
    if (members.length < expect) return undefined;
    // The lowest member that may lead and form writes the first configuration
    // (a member that never leads could not replicate it; one without an
    // expected size never writes it).
    const writes = (id: NodeId) => {
      if (id === core.id) return core.opts.preference !== "never";
      const st = this.status.get(id);
      return !!st && st.forms && !st.never;
    };
    const writer = members.find(writes) ??
      members.find((id) => id === core.id || this.status.get(id)?.forms);
    return writer === core.id ? members : undefined;
  }

  /** Two incarnations met: an empty one yields, two holding writes stay apart. */
  #compare(from: NodeId, theirs: string | undefined): void {
    const mine = this.#host.core().cluster;
    if (mine === undefined || theirs === undefined || theirs === mine) return;
    if (this.#rejected.has(theirs) || this.#dismissed.has(theirs)) return;
    // Decide only once every bonded peer told us its state (their statuses repeat).
    for (const p of this.#host.bonds()) if (!this.status.has(p)) return;
    const ours = this.#best(mine);
    const their = this.#best(theirs);
    if (ours === 0 && (their > 0 || theirs < mine)) return this.#giveUp(mine, theirs);
    this.sendStatus(from);
    if (
      ours > 0 && their > 0 && !this.conflicts.has(theirs) && this.conflicts.size < MAX_CONFLICTS
    ) {
      this.conflicts.add(theirs);
      this.#host.conflict(mine, theirs, from);
    }
  }

  #giveUp(mine: string, theirs: string): void {
    this.#rejected.add(mine);
    this.#start = this.#host.now();
    this.conflicts.clear();
    this.#host.reset(mine, theirs);
  }
}

/** A fresh random cluster id (128 bits, hex). */
function newClusterId(random: () => number): string {
  return Array.from(
    { length: 4 },
    () => Math.floor(random() * 0x100000000).toString(16).padStart(8, "0"),
  ).join("");
}
