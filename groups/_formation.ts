// Group formation and cluster incarnations. Bonded members exchange statuses
// (incarnation, commit, learner, how many commands their incarnation
// applied). An empty member waits for the statuses of its bonded peers; if
// none belongs to a formed group, the lowest member that may lead writes the
// first configuration with every bonded member that is not a learner. Two
// sets of members that could not see each other can form two incarnations
// (each with its own cluster id); when they meet, the one that applied more
// commands wins (ties: the lower cluster id) and the other's members reset.
import type { NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";

/** The status a member sends its bonded peers. */
export type StatusMessage = {
  type: "Status";
  cluster?: string;
  commit: number;
  learner: boolean;
  lead?: string;
  /** Most applied commands the sender knows of in its incarnation. */
  best?: number;
  /** The sender never becomes leader. */
  never?: boolean;
};

/** What a bonded peer last told us about itself. */
export interface PeerStatus {
  cluster?: string;
  learner: boolean;
  /** Most applied commands the peer knows of in its incarnation. */
  best: number;
  /** The peer never becomes leader. */
  never: boolean;
}

/** What formation needs from its replica; times in ticks. */
export interface FormationHost {
  core(): RaftCore;
  now(): number;
  bonds(): ReadonlySet<NodeId>;
  /** Commands applied since our incarnation formed. */
  commands(): number;
  learner(): boolean;
  send(to: NodeId, msg: StatusMessage): void;
  /** Gives up incarnation `mine` for `theirs`: erase everything and start empty. */
  reset(mine: string, theirs: string): void;
  readonly random: () => number;
  readonly formationTicks: number;
  readonly electionTicks: number;
  readonly bootstrapExpect: number | undefined;
}

/** See the file comment. */
export class Formation {
  readonly #host: FormationHost;
  /** The latest status of every bonded peer. */
  readonly status = new Map<NodeId, PeerStatus>();
  /** Incarnations this member gave up (their members will add it no more). */
  readonly #rejected = new Set<string>();
  #start = 0;
  #lastLeaderSeen = 0;

  constructor(host: FormationHost) {
    this.#host = host;
  }

  /** Whether messages of incarnation `cluster` are refused (we gave it up). */
  rejects(cluster: string | undefined): boolean {
    return cluster !== undefined && this.#rejected.has(cluster);
  }

  /** A leader was heard from. */
  leaderSeen(): void {
    this.#lastLeaderSeen = this.#host.now();
  }

  /** A peer's status; incarnations are compared when it reports another one. */
  onStatus(from: NodeId, msg: StatusMessage): void {
    this.status.set(from, {
      cluster: msg.cluster,
      learner: msg.learner,
      best: msg.best ?? 0,
      never: msg.never === true,
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
    });
  }

  /** Most applied commands known of in `cluster` (ours: including our own count). */
  #best(cluster: string | undefined): number {
    if (cluster === undefined) return 0;
    let best = cluster === this.#host.core().cluster ? this.#host.commands() : 0;
    for (const st of this.status.values()) {
      if (st.cluster === cluster && st.best > best) best = st.best;
    }
    return best;
  }

  /** One tick: an empty member bootstraps a group when it should. */
  tick(): void {
    const core = this.#host.core();
    const now = this.#host.now();
    // A member that has voted (term > 0) knows a group exists and waits to be
    // added, unless no leader showed up for a long time (the one it voted for
    // may be gone for good; should it return, the incarnations resolve).
    if (core.config || core.lastIndex > 0 || this.#host.learner()) return;
    const { formationTicks, electionTicks } = this.#host;
    if (core.term > 0 && now - this.#lastLeaderSeen < 4 * formationTicks + 4 * electionTicks) {
      return;
    }
    const voters = this.#voters(now - this.#start >= formationTicks);
    if (!voters) return;
    core.bootstrap({ cluster: newClusterId(this.#host.random), voters, learners: [] });
    core.campaignNow();
  }

  /** The voters of a new group if this member must write its first configuration now. */
  #voters(windowPassed: boolean): NodeId[] | undefined {
    const core = this.#host.core();
    const known: NodeId[] = [];
    for (const p of this.#host.bonds()) {
      const st = this.status.get(p);
      if (!st) return undefined; // wait until every bonded peer told us its state
      if (st.cluster !== undefined && !this.#rejected.has(st.cluster)) return undefined; // it will add us
      if (st.cluster === undefined && !st.learner) known.push(p);
    }
    const members = [core.id, ...known].sort();
    const expect = this.#host.bootstrapExpect;
    if (expect !== undefined) {
      if (members.length < expect) return undefined;
    } else if (!windowPassed) return undefined;
    // The lowest member that may lead writes the first configuration (a member
    // that never leads could not replicate it).
    const canLead = (id: NodeId) =>
      id === core.id ? core.opts.preference !== "never" : !this.status.get(id)?.never;
    const writer = members.find(canLead) ?? members[0];
    return writer === core.id ? members : undefined;
  }

  /** Two incarnations met: the losing one's member resets and rejoins the winner as new. */
  #compare(from: NodeId, theirs: string | undefined): void {
    const mine = this.#host.core().cluster;
    if (mine === undefined || theirs === undefined || theirs === mine) return;
    if (this.#rejected.has(theirs)) return;
    // Decide only once every bonded peer told us its state (their statuses repeat).
    for (const p of this.#host.bonds()) if (!this.status.has(p)) return;
    const myBest = this.#best(mine);
    const theirBest = this.#best(theirs);
    if (!(theirBest > myBest || (theirBest === myBest && theirs < mine))) {
      this.sendStatus(from);
      return;
    }
    this.#rejected.add(mine);
    this.#start = this.#host.now();
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
