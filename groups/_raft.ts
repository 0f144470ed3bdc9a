// A deterministic Raft node as a pure state machine: messages and ticks in,
// messages and persistence out. No timers, no I/O, no global randomness; the
// clock is the number of tick() calls and randomness is injected. Follows the
// extended Raft paper and etcd/raft: PreVote, CheckQuorum with leader lease,
// leader no-op, commit of current-term entries only, single-server membership
// changes through the log, learners, ReadIndex, snapshots, leadership
// transfer and AppendEntries flow control. This file holds the step core:
// terms, roles and the dispatch of messages to the election (`_election.ts`),
// follower (`_follower.ts`) and leader (`_leader.ts`) sides, over the log
// (`_log.ts`).
//
// The driver takes the node's output with ready() and lets it write the
// leader's unstable tail with advance(). Durability rule: every change of
// term, vote or log is written to storage (synchronously) before any message
// that depends on it is handed out; the one exception, as in etcd, is a
// leader's new entries, which it sends before writing them and counts toward
// commit only once advance() wrote them. With group commit (`_outbox.ts`)
// "written" means flushed: the driver holds messages and calls stable().
import {
  DEFAULT_RAFT_OPTIONS,
  type Envelope,
  type NodeId,
  type Outgoing,
  type RaftMessage,
  type RaftOptions,
  type ReadState,
  type Ready,
  type Role,
} from "./_messages.ts";
import type { Config, Entry, Snapshot, Storage } from "./storage.ts";
import { EntryType } from "./storage.ts";
import { RaftLog } from "./_log.ts";
import { Leader } from "./_leader.ts";
import { SnapshotReceiver } from "./_snapshot_transfer.ts";
import { campaign, onVote, stepCandidate } from "./_election.ts";
import { accept, stepFollower } from "./_follower.ts";
import { inLease, isVoterIn, mayRaiseTerm, newEpoch } from "./_voters.ts";

/** See the file comment. */
export class RaftCore {
  readonly id: NodeId;
  /** The storage epoch: chosen when this member first started on its storage. */
  readonly epoch: string;
  readonly opts: RaftOptions;
  readonly #random: () => number;
  readonly #storage: Storage;
  /** @internal The log, shared with the leader side. */
  readonly log: RaftLog;
  /** @internal The leader side while this node leads. */
  leader: Leader | undefined;
  /** @internal Ticks since the last sign of a leader (on a leader: since the last CheckQuorum). */
  electionElapsed = 0;
  /** @internal Ticks since the last sign of a leader (its own leadership counts). */
  leaderless = 0;
  /** @internal Ticks since start (the snapshot transfer's clock). */
  ticks = 0;

  term = 0;
  vote: NodeId | undefined;
  lead: NodeId | undefined;
  role: Role = "follower";
  /** Number of elections this node started. */
  elections = 0;

  /** @internal Votes received in the current (pre-)election. */
  readonly votes = new Map<NodeId, boolean>();
  /** @internal The snapshot being received in chunks. */
  readonly receiver = new SnapshotReceiver();
  #randomizedTimeout = 0;
  #messages: Outgoing[] = [];
  #readStates: ReadState[] = [];
  #restored: Snapshot | undefined;
  /** The commit index last written with the hard state. */
  #persistedCommit = 0;

  constructor(id: NodeId, storage: Storage, random: () => number, opts?: Partial<RaftOptions>) {
    this.id = id;
    this.#random = random;
    this.opts = { ...DEFAULT_RAFT_OPTIONS, ...opts };
    const state = storage.load();
    this.#storage = storage;
    this.term = state.hard.term;
    this.vote = state.hard.vote;
    this.log = new RaftLog(storage, state);
    this.#restored = state.snapshot;
    this.#persistedCommit = state.hard.commit ?? 0;
    this.epoch = state.hard.epoch ?? newEpoch(random);
    if (state.hard.epoch === undefined) this.persistHard();
    this.#resetTimeout();
  }

  /** Highest index known committed. */
  get commit(): number {
    return this.log.committed;
  }

  /** The latest configuration in the log (takes effect on append). */
  get config(): Config | undefined {
    return this.log.config;
  }

  /** Index of the last log entry (or of the snapshot). */
  get lastIndex(): number {
    return this.log.lastIndex;
  }

  /** First index still in the log (after the snapshot). */
  get firstIndex(): number {
    return this.log.firstIndex;
  }

  /** The cluster incarnation this node belongs to (undefined while empty). */
  get cluster(): string | undefined {
    return this.log.config?.cluster;
  }

  /** Term of entry `i`, or undefined if compacted or beyond the log. */
  termAt(i: number): number | undefined {
    return this.log.termAt(i);
  }

  /** Entries `lo..=hi` (must be in the log). */
  entries(lo: number, hi: number): Entry[] {
    return this.log.entries(lo, hi);
  }

  /** The configuration in effect at `index`. */
  configAt(index: number): Config | undefined {
    return this.log.configAt(index);
  }

  /**
   * Whether this node is a voter of its latest configuration (with its
   * current storage epoch: a member that lost its storage is not).
   */
  get isVoter(): boolean {
    return isVoterIn(this.config, this.id, this.epoch);
  }

  /** Whether this node is a voter or learner of its latest configuration. */
  get isMember(): boolean {
    return this.isVoter || !!this.config?.learners.includes(this.id);
  }

  /** Whether a leadership transfer is under way. */
  get transferring(): boolean {
    return this.leader?.transferee !== undefined;
  }

  /** Match index of every member as seen by the leader (empty elsewhere). */
  matchIndexes(): Map<NodeId, number> {
    return this.leader?.progress.matchIndexes() ?? new Map();
  }

  /** Hands out what the driver must do (messages, reads, a snapshot to restore) and forgets it. */
  ready(): Ready {
    const rd: Ready = {
      messages: this.#messages,
      readStates: this.#readStates,
      snapshot: this.#restored,
      mustPersist: this.log.hasUnstable,
    };
    this.#messages = [];
    this.#readStates = [];
    this.#restored = undefined;
    return rd;
  }

  /** Whether {@linkcode RaftCore.ready} has messages, reads or a snapshot. */
  get hasReady(): boolean {
    return this.#messages.length > 0 || this.#readStates.length > 0 || !!this.#restored;
  }

  /** Writes the leader's unstable entries, then counts them toward commit. */
  advance(): void {
    if (this.log.persist() && this.leader?.maybeCommit()) this.leader?.commitAdvanced();
  }

  /** Group commit: the writes `mark` covered were flushed (the leader counts its entries now). */
  stable(mark: { index: number; version: number }): void {
    if (this.log.stable(mark) && this.leader?.maybeCommit()) this.leader?.commitAdvanced();
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.advance();
    this.ticks++;
    this.electionElapsed++;
    if (this.commit > this.#persistedCommit && this.ticks % this.opts.heartbeatTicks === 0) {
      this.persistHard(); // at most once a heartbeat, so the commit index survives a restart
    }
    const silent = this.lead === undefined ? this.leaderless + 1 : this.electionElapsed;
    this.leaderless = this.leader ? 0 : silent;
    if (this.leader) {
      this.leader.tick();
      return;
    }
    if (this.promotable && this.electionElapsed >= this.#randomizedTimeout) {
      this.electionElapsed = 0;
      campaign(this, false);
    }
  }

  /** Starts an election now (used right after bootstrap). */
  campaignNow(): void {
    if (this.promotable && this.role !== "leader") campaign(this, false);
  }

  /** Writes the first configuration of a new cluster into a log that never held anything. */
  bootstrap(config: Config): void {
    if (this.lastIndex !== 0) throw new Error("bootstrap needs an empty log");
    this.term += 1;
    this.vote = undefined;
    this.persistHard();
    this.append([{ index: 1, term: this.term, type: EntryType.Config, config }]);
  }

  /**
   * Appends entries built from `payloads` if leader. Returns the index of the
   * last appended entry, or undefined if this node cannot accept proposals.
   */
  propose(payloads: Uint8Array[]): number | undefined {
    if (!this.leader || this.leader.transferee !== undefined || !payloads.length) return undefined;
    const first = this.lastIndex + 1;
    return this.#proposeEntries(payloads.map((data, i) => ({
      index: first + i,
      term: this.term,
      type: EntryType.Command,
      data,
    })));
  }

  /**
   * Proposes a new configuration (one voter added or removed at a time).
   * Refused (undefined) unless leader, a current-term entry is committed and
   * no other change is pending.
   */
  proposeConfig(next: Config): number | undefined {
    if (!this.canChangeConfig() || !this.config) return undefined;
    if (next.cluster !== this.config.cluster) return undefined;
    const before = new Set(this.config.voters);
    const after = new Set(next.voters);
    let diff = 0;
    for (const v of before) if (!after.has(v)) diff++;
    for (const v of after) if (!before.has(v)) diff++;
    if (diff > 1 || after.size === 0) return undefined;
    return this.#proposeEntries([{
      index: this.lastIndex + 1,
      term: this.term,
      type: EntryType.Config,
      config: next,
    }]);
  }

  #proposeEntries(entries: Entry[]): number {
    this.append(entries, false);
    this.leader!.maybeCommit();
    this.leader?.broadcastAppend();
    return this.lastIndex;
  }

  /** Whether a configuration change could be proposed now. */
  canChangeConfig(): boolean {
    return this.leader?.canChangeConfig() ?? false;
  }

  /** Requests a linearizable read point; the answer arrives in a later {@linkcode Ready}. */
  readIndex(ctx: string): void {
    if (this.leader) this.leader.read({ ctx, from: undefined });
    else if (this.lead !== undefined) {
      this.send(this.lead, { type: "ReadIndex", term: this.term, ctx });
    } else this.#readStates.push({ ctx, index: -1 });
  }

  /** Hands leadership to `to` (default: the most up-to-date voter). */
  transferLeadership(to?: NodeId): void {
    this.leader?.transfer(to);
  }

  /** Records a snapshot of the applied state at `index` (≤ commit) and drops the log before it. */
  compact(index: number, data: Uint8Array): void {
    this.advance();
    this.log.compact(index, data);
  }

  /** Handles a message from `from`. */
  step(from: NodeId, m: Envelope): void {
    this.advance();
    if (m.cluster !== undefined && this.config && m.cluster !== this.config.cluster) return;
    // A voter of the configuration whose message carries another storage
    // epoch lost its storage: its votes and acknowledgements do not count
    // (it may still ask for votes: our configuration may be older than the
    // one that re-added it).
    const stale = !!this.config?.voters.includes(from) && !isVoterIn(this.config, from, m.epoch);
    if (m.term > this.term) {
      if (!mayRaiseTerm(this, from, m)) return;
      if ((m.type === "Vote" || m.type === "PreVote") && !m.force && inLease(this)) return;
      if (m.type === "PreVote" || (m.type === "PreVoteR" && !m.reject)) {
        // PreVote never changes the term.
      } else if (m.type === "App" || m.type === "Hb" || m.type === "Snap") {
        this.becomeFollower(m.term, from);
      } else {
        this.becomeFollower(m.term, undefined);
      }
    } else if (m.term < this.term) {
      if (m.type === "App" || m.type === "Hb") {
        accept(this, from, 0);
      } else if (m.type === "PreVote") {
        this.send(from, { type: "PreVoteR", term: this.term, reject: true });
      } else if (m.type === "ReadIndex") {
        this.#refuseRead(m.ctx, from);
      }
      return;
    }

    switch (m.type) {
      case "PreVote":
      case "Vote":
        return onVote(this, from, m);
      case "ReadIndex":
        if (this.leader) this.leader.read({ ctx: m.ctx, from });
        else this.#refuseRead(m.ctx, from);
        return;
      case "ReadIndexR":
        this.#readStates.push({ ctx: m.ctx, index: m.index });
        return;
      case "PreVoteR":
      case "VoteR":
        if (stale) return;
    }

    if (this.leader) this.leader.step(from, m, stale);
    else if (this.role === "follower") stepFollower(this, from, m);
    else if (m.type === "App" || m.type === "Hb" || m.type === "Snap") {
      this.becomeFollower(m.term, from); // a leader of our term exists
      stepFollower(this, from, m);
    } else stepCandidate(this, from, m);
  }

  /** @internal Queues a message, stamped with our incarnation and storage epoch. */
  send(to: NodeId, msg: RaftMessage): void {
    const env = msg as Envelope;
    if (this.config) env.cluster = this.config.cluster;
    env.epoch = this.epoch;
    this.#messages.push({ to, msg: env });
  }

  /** @internal Answers a confirmed read (`from` undefined: made on this node). */
  answerRead(state: ReadState, from: NodeId | undefined): void {
    if (from === undefined) this.#readStates.push(state);
    else this.send(from, { type: "ReadIndexR", term: this.term, ...state });
  }

  /** @internal Leaves leadership (CheckQuorum failed, or we were removed). */
  stepDown(): void {
    this.becomeFollower(this.term, undefined);
  }

  #refuseRead(ctx: string, from: NodeId | undefined): void {
    this.answerRead({ ctx, index: -1 }, from);
  }

  /** @internal A voter that may lead. */
  get promotable(): boolean {
    return this.isVoter && this.opts.preference !== "never";
  }

  /** @internal Writes term, vote, epoch and the commit index. */
  persistHard(): void {
    this.#persistedCommit = this.commit;
    this.#storage.setHardState({
      term: this.term,
      vote: this.vote,
      epoch: this.epoch,
      commit: this.commit,
    });
  }

  /** @internal Appends to the log (a leader's own entries may stay unwritten: `durable` false). */
  append(entries: Entry[], durable = true): void {
    this.log.append(entries, durable || !this.leader);
    this.leader?.sync();
  }

  /** @internal Installs a snapshot from the leader; the state machine restores it next. */
  install(s: Snapshot): void {
    this.log.install(s);
    this.#restored = s;
  }

  #resetTimeout(): void {
    const e = this.opts.electionTicks;
    const factor = this.opts.preference === "reluctant" ? this.opts.reluctantFactor : 1;
    this.#randomizedTimeout = Math.floor((e + Math.floor(this.#random() * e)) * factor);
  }

  #reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = undefined;
    }
    this.lead = undefined;
    this.electionElapsed = 0;
    this.#resetTimeout();
    this.votes.clear();
    const leader = this.leader;
    this.leader = undefined;
    for (const r of leader?.end() ?? []) this.#refuseRead(r.ctx, r.from);
  }

  /** @internal */
  becomeFollower(term: number, lead: NodeId | undefined): void {
    const changed = term !== this.term;
    this.#reset(term);
    this.lead = lead;
    this.role = "follower";
    if (changed) this.persistHard();
  }

  /** @internal */
  becomePreCandidate(): void {
    this.votes.clear();
    this.#resetTimeout();
    this.role = "precandidate";
    this.lead = undefined;
  }

  /** @internal */
  becomeCandidate(): void {
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.persistHard();
    this.elections++;
  }

  /** @internal */
  becomeLeader(): void {
    this.#reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    this.leader = new Leader(this);
    this.#proposeEntries([{ index: this.lastIndex + 1, term: this.term, type: EntryType.Noop }]);
  }
}
