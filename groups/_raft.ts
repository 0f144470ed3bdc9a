/**
 * A deterministic Raft node as a pure state machine: messages and ticks in,
 * messages and persistence out. No timers, no I/O, no global randomness; the
 * clock is the number of {@linkcode RaftCore.tick} calls and randomness is
 * injected. Follows the extended Raft paper and etcd/raft: PreVote,
 * CheckQuorum with leader lease, leader no-op, commit of current-term entries
 * only, single-server membership changes through the log, learners,
 * ReadIndex, snapshots, leadership transfer and AppendEntries flow control.
 *
 * Durability rule: every change of term, vote or log is written to
 * {@linkcode Storage} (synchronously) before any message that depends on it
 * is placed in the outbox.
 *
 * @module
 */
import type { Config, Entry, HardState, Snapshot, Storage } from "./storage.ts";
import { EntryType } from "./storage.ts";
import { crc32 } from "./_crc32.ts";

/** A member's id (a PeerId in the group layer). */
export type NodeId = string;

/** Who may become leader: as usual, later than others, or never. */
export type LeadershipPreference = "normal" | "reluctant" | "never";

/** Tunables of {@linkcode RaftCore}; times are in ticks. */
export interface RaftOptions {
  /** Base election timeout; the randomized timeout is in [e, 2e). Default 10. */
  electionTicks: number;
  /** Leader heartbeat period. Default 1. */
  heartbeatTicks: number;
  /** Maximum entries per AppendEntries message. Default 512. */
  maxEntriesPerMsg: number;
  /** Maximum payload bytes per AppendEntries message. Default 1 MiB. */
  maxBytesPerMsg: number;
  /** Maximum unacknowledged AppendEntries messages per follower. Default 64. */
  maxInflight: number;
  /** Leadership preference of this node. Default "normal". */
  preference: LeadershipPreference;
  /** Factor of the election timeout of a reluctant node. Default 3. */
  reluctantFactor: number;
  /** Bytes of snapshot data per InstallSnapshot message. Default 1 MiB. */
  snapshotChunkBytes: number;
}

/** Unacknowledged snapshot chunks per follower. */
const SNAPSHOT_WINDOW = 4;

/** Default {@linkcode RaftOptions}. */
export const DEFAULT_RAFT_OPTIONS: RaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxEntriesPerMsg: 512,
  maxBytesPerMsg: 1 << 20,
  maxInflight: 64,
  preference: "normal",
  reluctantFactor: 3,
  snapshotChunkBytes: 1 << 20,
};

/** Raft wire messages. Every message carries the sender's term and cluster incarnation. */
export type RaftMessage =
  | { type: "PreVote" | "Vote"; term: number; lastIndex: number; lastTerm: number; force?: boolean }
  | { type: "PreVoteR" | "VoteR"; term: number; reject: boolean }
  | {
    type: "App";
    term: number;
    prevIndex: number;
    prevTerm: number;
    entries: Entry[];
    commit: number;
  }
  | { type: "AppR"; term: number; index: number; reject: boolean; hint: number; hintTerm: number }
  | {
    type: "Hb";
    term: number;
    commit: number;
    ctx?: string;
    /** The leader's commit index and its term: a point lagging members catch up to. */
    lc?: number;
    lct?: number;
  }
  | {
    type: "HbR";
    term: number;
    ctx?: string;
    /** The follower's last log index: lower than its match index when it lost its storage. */
    last?: number;
  }
  | {
    type: "Snap";
    term: number;
    /** The snapshot; `data` holds bytes `offset..offset + data.length` of its data. */
    snapshot: Snapshot;
    offset: number;
    /** Length of the whole data. */
    total: number;
    /** CRC-32 of the whole data, checked before restore. */
    crc: number;
  }
  | { type: "SnapR"; term: number; index: number; offset: number }
  | { type: "TimeoutNow"; term: number }
  | { type: "ReadIndex"; term: number; ctx: string }
  | { type: "ReadIndexR"; term: number; ctx: string; index: number };

/** A message with its cluster incarnation, as sent on the wire. */
export type Envelope = RaftMessage & { cluster?: string };

/** An outgoing message. */
export interface Outgoing {
  /** Destination. */
  to: NodeId;
  /** The message. */
  msg: Envelope;
}

/** Role of a node. */
export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** The result of a ReadIndex request: reads at `index` or later are linearizable. */
export interface ReadState {
  /** The request's context. */
  ctx: string;
  /** Commit index to wait for; -1 if the request was refused (no leader). */
  index: number;
}

interface Progress {
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  paused: boolean;
  inflight: number[];
  active: boolean;
  pendingSnapshot: number;
  snapshotSentAt: number;
  /** The snapshot being sent, its CRC, chunks acknowledged and the next chunk to send. */
  snap: Snapshot | undefined;
  snapCrc: number;
  snapAcked: number;
  snapNext: number;
}

interface SnapshotBuffer {
  index: number;
  term: number;
  total: number;
  crc: number;
  data: Uint8Array;
  received: number;
}

interface PendingRead {
  ctx: string;
  index: number;
  from: NodeId | undefined;
  acks: Set<NodeId>;
}

/** Thrown when the log would lose a committed entry: a bug or corrupted storage. */
export class SafetyViolation extends Error {}

/** A Raft node. See the module documentation. */
export class RaftCore {
  readonly id: NodeId;
  readonly opts: RaftOptions;
  readonly storage: Storage;
  private readonly random: () => number;

  term = 0;
  vote: NodeId | undefined;
  lead: NodeId | undefined;
  role: Role = "follower";
  commit = 0;

  private log: Entry[] = [];
  private snapshot: Snapshot | undefined;
  private snapIndex = 0;
  private snapTerm = 0;
  /** CRC-32 of the latest snapshot's data, computed when first sent. */
  private snapCrc: number | undefined;
  /** A snapshot being received in chunks. */
  private snapBuf: SnapshotBuffer | undefined;
  /** The latest configuration in the log (takes effect on append). */
  config: Config | undefined;
  private configIndex = 0;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private committedInTerm = false;
  private pendingReads: PendingRead[] = [];
  private waitingReads: { ctx: string; from: NodeId | undefined }[] = [];
  private transferee: NodeId | undefined;
  private transferElapsed = 0;

  /** Messages to send; the driver takes them after each call. */
  outbox: Outgoing[] = [];
  /** Completed ReadIndex requests made on this node. */
  readStates: ReadState[] = [];
  /** A snapshot installed from the leader that the state machine must restore. */
  restored: Snapshot | undefined;
  /** Number of elections this node started. */
  elections = 0;

  constructor(id: NodeId, storage: Storage, random: () => number, opts?: Partial<RaftOptions>) {
    this.id = id;
    this.storage = storage;
    this.random = random;
    this.opts = { ...DEFAULT_RAFT_OPTIONS, ...opts };
    const state = storage.load();
    this.term = state.hard.term;
    this.vote = state.hard.vote;
    if (state.snapshot) {
      this.snapshot = state.snapshot;
      this.snapIndex = state.snapshot.index;
      this.snapTerm = state.snapshot.term;
      this.config = state.snapshot.config;
      this.configIndex = state.snapshot.index;
      this.commit = state.snapshot.index;
      this.restored = state.snapshot;
    }
    this.log = state.entries.filter((e) => e.index > this.snapIndex);
    for (let i = 0; i < this.log.length; i++) {
      if (this.log[i].index !== this.snapIndex + i + 1) {
        throw new SafetyViolation("storage returned a non-contiguous log");
      }
    }
    this.refreshConfig();
    this.resetTimeout();
  }

  // ---------------------------------------------------------------- log

  /** Index of the last log entry (or of the snapshot). */
  get lastIndex(): number {
    return this.snapIndex + this.log.length;
  }

  /** Term of the last log entry. */
  get lastTerm(): number {
    return this.log.length ? this.log[this.log.length - 1].term : this.snapTerm;
  }

  /** First index still in the log (after the snapshot). */
  get firstIndex(): number {
    return this.snapIndex + 1;
  }

  /** The latest snapshot, if any. */
  get latestSnapshot(): Snapshot | undefined {
    return this.snapshot;
  }

  /** The cluster incarnation this node belongs to (undefined while empty). */
  get cluster(): string | undefined {
    return this.config?.cluster;
  }

  /** Term of entry `i`, or undefined if compacted or beyond the log. */
  termAt(i: number): number | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.lastIndex) return undefined;
    return this.log[i - this.snapIndex - 1].term;
  }

  /** Entries `lo..=hi` (must be in the log). */
  entries(lo: number, hi: number): Entry[] {
    if (lo > hi) return [];
    if (lo <= this.snapIndex) throw new RangeError(`entry ${lo} is compacted`);
    return this.log.slice(lo - this.snapIndex - 1, hi - this.snapIndex);
  }

  private isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * Appends to the log. A leader's own entries may stay unwritten
   * (`durable = false`) until {@linkcode RaftCore.persist}: it sends them to
   * followers first and counts itself toward commit only once they are on
   * disk (etcd does the same). Everything else is written before it is used.
   */
  private appendLocal(entries: Entry[], durable = true): void {
    if (!entries.length) return;
    const first = entries[0].index;
    if (first <= this.commit) {
      throw new SafetyViolation(`refusing to overwrite committed entry ${first}`);
    }
    if (durable || this.role !== "leader") {
      this.persist();
      this.storage.append(entries);
    } else {
      if (first !== this.lastIndex + 1) throw new SafetyViolation("a leader only appends");
      this.unstable += entries.length;
    }
    this.log.length = first - this.snapIndex - 1;
    for (const e of entries) this.log.push(e);
    if (this.configIndex >= first) this.refreshConfig();
    else {
      for (const e of entries) {
        if (e.type === EntryType.Config) {
          this.config = e.config;
          this.configIndex = e.index;
        }
      }
    }
    if (this.role === "leader") this.syncProgress();
  }

  private refreshConfig(): void {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i];
      if (e.type === EntryType.Config) {
        this.config = e.config;
        this.configIndex = e.index;
        return;
      }
    }
    this.config = this.snapshot?.config;
    this.configIndex = this.snapshot ? this.snapIndex : 0;
  }

  /** The configuration in effect at `index` (latest config entry at or below it). */
  configAt(index: number): Config | undefined {
    for (let i = Math.min(index, this.lastIndex) - this.snapIndex - 1; i >= 0; i--) {
      const e = this.log[i];
      if (e.type === EntryType.Config) return e.config;
    }
    return this.snapshot?.config;
  }

  // ---------------------------------------------------------------- roles

  /** Whether this node is a voter of its latest configuration. */
  get isVoter(): boolean {
    return !!this.config?.voters.includes(this.id);
  }

  /** Whether this node is a voter or learner of its latest configuration. */
  get isMember(): boolean {
    return this.isVoter || !!this.config?.learners.includes(this.id);
  }

  private get promotable(): boolean {
    return this.isVoter && this.opts.preference !== "never";
  }

  private quorum(): number {
    return Math.floor((this.config?.voters.length ?? 0) / 2) + 1;
  }

  private resetTimeout(): void {
    const e = this.opts.electionTicks;
    const factor = this.opts.preference === "reluctant" ? this.opts.reluctantFactor : 1;
    this.randomizedTimeout = Math.floor((e + Math.floor(this.random() * e)) * factor);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = undefined;
    }
    this.lead = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetTimeout();
    this.votes.clear();
    this.transferee = undefined;
    this.committedInTerm = false;
    this.pendingReads = [];
    for (const r of this.waitingReads) this.refuseRead(r.ctx, r.from);
    this.waitingReads = [];
  }

  private persistHard(): void {
    const hard: HardState = { term: this.term, vote: this.vote };
    this.storage.setHardState(hard);
  }

  private becomeFollower(term: number, lead: NodeId | undefined): void {
    const changed = term !== this.term;
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
    if (changed) this.persistHard();
  }

  private becomePreCandidate(): void {
    this.votes.clear();
    this.resetTimeout();
    this.role = "precandidate";
    this.lead = undefined;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.persistHard();
    this.elections++;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    this.progress.clear();
    this.syncProgress();
    const self = this.progress.get(this.id);
    if (self) self.state = "replicate";
    this.appendLocal([{ index: this.lastIndex + 1, term: this.term, type: EntryType.Noop }], false);
    this.maybeCommit();
    this.broadcastAppend();
  }

  private syncProgress(): void {
    const members = new Set([...(this.config?.voters ?? []), ...(this.config?.learners ?? [])]);
    members.add(this.id);
    for (const id of this.progress.keys()) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      if (!this.progress.has(id)) {
        this.progress.set(id, {
          match: id === this.id ? this.lastIndex : 0,
          next: this.lastIndex + 1,
          state: "probe",
          paused: false,
          inflight: [],
          active: true,
          pendingSnapshot: 0,
          snapshotSentAt: 0,
          snap: undefined,
          snapCrc: 0,
          snapAcked: 0,
          snapNext: 0,
        });
      }
    }
    const self = this.progress.get(this.id)!;
    self.match = this.lastIndex;
    self.next = this.lastIndex + 1;
  }

  // ---------------------------------------------------------------- driver API

  /** Index of the last entry written to storage. */
  get persistedIndex(): number {
    return this.lastIndex - this.unstable;
  }

  /** Whether the leader holds entries not yet written to storage. */
  get hasUnstable(): boolean {
    return this.unstable > 0;
  }

  /** Writes the leader's pending entries, then counts them toward commit. */
  persist(): void {
    if (!this.unstable) return;
    const entries = this.log.slice(this.log.length - this.unstable);
    this.unstable = 0;
    this.storage.append(entries);
    if (this.role === "leader" && this.maybeCommit()) this.broadcastAppend();
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.persist();
    this.ticks++;
    this.electionElapsed++;
    if (this.role === "leader") {
      this.heartbeatElapsed++;
      if (this.transferee !== undefined && ++this.transferElapsed >= this.opts.electionTicks) {
        this.transferee = undefined;
      }
      if (this.electionElapsed >= this.opts.electionTicks) {
        this.electionElapsed = 0;
        if (!this.checkQuorum()) {
          this.becomeFollower(this.term, undefined);
          return;
        }
      }
      if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        this.broadcastHeartbeat(undefined);
      }
      return;
    }
    if (this.promotable && this.electionElapsed >= this.randomizedTimeout) {
      this.electionElapsed = 0;
      this.campaign(false);
    }
  }

  /** Starts an election now (used right after bootstrap). */
  campaignNow(): void {
    if (this.promotable && this.role !== "leader") this.campaign(false);
  }

  /**
   * Writes the first configuration of a new cluster into an empty log.
   * Only valid on a node that has never held any log or snapshot.
   */
  bootstrap(config: Config): void {
    if (this.lastIndex !== 0) throw new Error("bootstrap needs an empty log");
    this.term += 1;
    this.vote = undefined;
    this.persistHard();
    this.appendLocal([{ index: 1, term: this.term, type: EntryType.Config, config }]);
  }

  /**
   * Appends entries built from `payloads` if leader. Returns the index of the
   * last appended entry, or undefined if this node cannot accept proposals.
   */
  propose(payloads: Uint8Array[]): number | undefined {
    if (this.role !== "leader" || this.transferee !== undefined || !payloads.length) {
      return undefined;
    }
    const entries: Entry[] = payloads.map((data, i) => ({
      index: this.lastIndex + 1 + i,
      term: this.term,
      type: EntryType.Command,
      data,
    }));
    this.appendLocal(entries, false);
    this.maybeCommit();
    this.broadcastAppend();
    return this.lastIndex;
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
    this.appendLocal([{
      index: this.lastIndex + 1,
      term: this.term,
      type: EntryType.Config,
      config: next,
    }], false);
    this.maybeCommit();
    this.broadcastAppend();
    return this.lastIndex;
  }

  /** Whether a configuration change could be proposed now. */
  canChangeConfig(): boolean {
    return this.role === "leader" && this.committedInTerm && this.configIndex <= this.commit &&
      this.transferee === undefined;
  }

  /** Requests a linearizable read point; the answer arrives in {@linkcode readStates}. */
  readIndex(ctx: string): void {
    if (this.role === "leader") this.leaderRead(ctx, undefined);
    else if (this.lead !== undefined) {
      this.send(this.lead, { type: "ReadIndex", term: this.term, ctx });
    } else this.readStates.push({ ctx, index: -1 });
  }

  /** Hands leadership to `to` (default: the most up-to-date voter). */
  transferLeadership(to?: NodeId): void {
    if (this.role !== "leader" || !this.config) return;
    let target = to;
    if (target === undefined) {
      let best = -1;
      for (const v of this.config.voters) {
        const pr = this.progress.get(v);
        if (v !== this.id && pr && pr.match > best) {
          best = pr.match;
          target = v;
        }
      }
    }
    if (target === undefined || target === this.id || !this.config.voters.includes(target)) return;
    this.transferee = target;
    this.transferElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.lastIndex) this.send(target, { type: "TimeoutNow", term: this.term });
    else this.sendAppend(target);
  }

  /** Whether a leadership transfer is under way. */
  get transferring(): boolean {
    return this.transferee !== undefined;
  }

  /** Match index of every member as seen by the leader (empty elsewhere). */
  matchIndexes(): Map<NodeId, number> {
    return new Map([...this.progress].map(([id, pr]) => [id, pr.match]));
  }

  /**
   * Records a snapshot of the applied state at `index` (≤ commit) and drops
   * the log before it.
   */
  compact(index: number, data: Uint8Array): void {
    this.persist();
    if (index <= this.snapIndex || index > this.commit) return;
    const term = this.termAt(index)!;
    const config = this.configAt(index);
    if (!config) return;
    const snap: Snapshot = { index, term, config, data };
    this.storage.saveSnapshot(snap, false);
    this.log = this.log.slice(index - this.snapIndex);
    this.snapshot = snap;
    this.snapCrc = undefined;
    this.snapIndex = index;
    this.snapTerm = term;
  }

  /**
   * Appends entries fetched from peers that hold the leader's (index, term)
   * point, hence equal the leader's log there: contiguous from at most
   * lastIndex + 1, never touching committed entries.
   */
  appendVerified(entries: Entry[]): void {
    if (this.role !== "follower" || !entries.length) return;
    const first = entries.findIndex((e) => e.index > this.commit);
    if (first < 0) return;
    const rest = entries.slice(first);
    if (rest[0].index > this.lastIndex + 1) return;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i].index !== rest[0].index + i) return;
    }
    const conflict = rest.findIndex((e) => this.termAt(e.index) !== e.term);
    if (conflict >= 0) this.appendLocal(rest.slice(conflict));
  }

  /** Handles a message from `from`. */
  step(from: NodeId, m: Envelope): void {
    this.persist();
    if (m.cluster !== undefined && this.config && m.cluster !== this.config.cluster) return;
    if (m.term > this.term) {
      if ((m.type === "Vote" || m.type === "PreVote") && !m.force && this.inLease()) return;
      if (m.type === "PreVote" || (m.type === "PreVoteR" && !m.reject)) {
        // PreVote never changes the term.
      } else if (m.type === "App" || m.type === "Hb" || m.type === "Snap") {
        this.becomeFollower(m.term, from);
      } else {
        this.becomeFollower(m.term, undefined);
      }
    } else if (m.term < this.term) {
      if (m.type === "App" || m.type === "Hb") {
        this.accept(from, 0);
      } else if (m.type === "PreVote") {
        this.send(from, { type: "PreVoteR", term: this.term, reject: true });
      } else if (m.type === "ReadIndex") {
        this.refuseRead(m.ctx, from);
      }
      return;
    }

    switch (m.type) {
      case "PreVote":
      case "Vote": {
        const canVote = this.vote === from ||
          (this.vote === undefined && this.lead === undefined) ||
          (m.type === "PreVote" && m.term > this.term);
        // A node that holds no configuration has never received the log, or
        // lost its storage: it only helps elect a candidate whose log holds
        // nothing but the bootstrap configuration (index 1), so a member that
        // restarted empty cannot elect a leader missing committed entries.
        const blank = this.config === undefined && m.lastIndex > 1;
        if (canVote && !blank && this.isUpToDate(m.lastIndex, m.lastTerm)) {
          if (m.type === "Vote") {
            this.electionElapsed = 0;
            this.vote = from;
            this.persistHard();
          }
          this.send(from, {
            type: m.type === "Vote" ? "VoteR" : "PreVoteR",
            term: m.term,
            reject: false,
          });
        } else {
          this.send(from, {
            type: m.type === "Vote" ? "VoteR" : "PreVoteR",
            term: this.term,
            reject: true,
          });
        }
        return;
      }
      case "ReadIndex":
        if (this.role === "leader") this.leaderRead(m.ctx, from);
        else this.refuseRead(m.ctx, from);
        return;
      case "ReadIndexR":
        this.readStates.push({ ctx: m.ctx, index: m.index });
        return;
    }

    if (this.role === "leader") this.stepLeader(from, m);
    else if (this.role === "follower") this.stepFollower(from, m);
    else this.stepCandidate(from, m);
  }

  // ---------------------------------------------------------------- elections

  private inLease(): boolean {
    return this.lead !== undefined && this.electionElapsed < this.opts.electionTicks;
  }

  private campaign(force: boolean): void {
    if (!force) {
      this.becomePreCandidate();
      this.votes.set(this.id, true);
      if (this.tally().won) return this.campaign(true);
      for (const v of this.config!.voters) {
        if (v !== this.id) {
          this.send(v, {
            type: "PreVote",
            term: this.term + 1,
            lastIndex: this.lastIndex,
            lastTerm: this.lastTerm,
          });
        }
      }
      return;
    }
    this.becomeCandidate();
    this.votes.set(this.id, true);
    if (this.tally().won) return this.becomeLeader();
    const transfer = this.transferCampaign;
    this.transferCampaign = false;
    for (const v of this.config!.voters) {
      if (v !== this.id) {
        this.send(v, {
          type: "Vote",
          term: this.term,
          lastIndex: this.lastIndex,
          lastTerm: this.lastTerm,
          force: transfer || undefined,
        });
      }
    }
  }

  private transferCampaign = false;
  /** Trailing entries of a leader not yet written to storage. */
  private unstable = 0;
  private ticks = 0;

  private tally(): { won: boolean; lost: boolean } {
    let granted = 0;
    let rejected = 0;
    for (const v of this.config?.voters ?? []) {
      const r = this.votes.get(v);
      if (r === true) granted++;
      else if (r === false) rejected++;
    }
    const q = this.quorum();
    return { won: granted >= q, lost: rejected >= q };
  }

  private stepCandidate(from: NodeId, m: Envelope): void {
    switch (m.type) {
      case "App":
      case "Hb":
      case "Snap":
        this.becomeFollower(m.term, from);
        this.stepFollower(from, m);
        return;
      case "PreVoteR":
      case "VoteR": {
        if ((m.type === "PreVoteR") !== (this.role === "precandidate")) return;
        this.votes.set(from, !m.reject);
        const { won, lost } = this.tally();
        if (won) {
          if (this.role === "precandidate") this.campaign(true);
          else this.becomeLeader();
        } else if (lost) {
          this.becomeFollower(this.term, undefined);
        }
        return;
      }
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(from: NodeId, m: Envelope): void {
    switch (m.type) {
      case "App":
        this.electionElapsed = 0;
        this.lead = from;
        this.handleAppend(from, m);
        return;
      case "Hb":
        this.electionElapsed = 0;
        this.lead = from;
        this.commitTo(Math.min(m.commit, this.lastIndex));
        this.send(from, { type: "HbR", term: this.term, ctx: m.ctx, last: this.lastIndex });
        return;
      case "Snap":
        this.electionElapsed = 0;
        this.lead = from;
        this.handleSnapshotChunk(from, m);
        return;
      case "TimeoutNow":
        if (this.promotable) {
          this.transferCampaign = true;
          this.campaign(true);
        }
        return;
    }
  }

  private handleAppend(
    from: NodeId,
    m: Extract<RaftMessage, { type: "App" }>,
  ): void {
    if (m.prevIndex < this.commit) {
      this.accept(from, this.commit);
      return;
    }
    const t = this.termAt(m.prevIndex);
    if (t === m.prevTerm) {
      const lastNew = m.prevIndex + m.entries.length;
      let conflict = -1;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i];
        if (this.termAt(e.index) !== e.term) {
          conflict = i;
          break;
        }
      }
      if (conflict >= 0) this.appendLocal(m.entries.slice(conflict));
      this.commitTo(Math.min(m.commit, lastNew));
      this.accept(from, lastNew);
      return;
    }
    // Reject with a hint: the largest index <= min(prevIndex, last) whose term <= prevTerm.
    let hint = Math.min(m.prevIndex, this.lastIndex);
    while (hint > this.snapIndex && (this.termAt(hint) ?? 0) > m.prevTerm) hint--;
    this.send(from, {
      type: "AppR",
      term: this.term,
      index: m.prevIndex,
      reject: true,
      hint,
      hintTerm: this.termAt(hint) ?? 0,
    });
  }

  /**
   * Reassembles a snapshot sent in chunks (in order, from offset 0), checks
   * its CRC and installs it; acknowledges every chunk with the bytes held.
   */
  private handleSnapshotChunk(from: NodeId, m: Extract<RaftMessage, { type: "Snap" }>): void {
    const s = m.snapshot;
    if (s.index <= this.commit || this.termAt(s.index) === s.term) {
      this.handleSnapshot(from, s); // nothing to install: acknowledge
      return;
    }
    const same = (b: SnapshotBuffer | undefined): b is SnapshotBuffer =>
      b !== undefined && b.index === s.index && b.term === s.term && b.total === m.total &&
      b.crc === m.crc;
    if (m.offset === 0 && !same(this.snapBuf)) {
      this.snapBuf = {
        index: s.index,
        term: s.term,
        total: m.total,
        crc: m.crc,
        data: new Uint8Array(m.total),
        received: 0,
      };
    }
    const b = this.snapBuf;
    if (!same(b)) {
      this.send(from, { type: "SnapR", term: this.term, index: s.index, offset: 0 });
      return;
    }
    if (m.offset === b.received && m.offset + s.data.byteLength <= b.total) {
      b.data.set(s.data, m.offset);
      b.received += s.data.byteLength;
    }
    if (b.received < b.total) {
      this.send(from, { type: "SnapR", term: this.term, index: s.index, offset: b.received });
      return;
    }
    this.snapBuf = undefined;
    if (crc32(b.data) !== b.crc) {
      this.send(from, { type: "SnapR", term: this.term, index: s.index, offset: 0 });
      return;
    }
    this.handleSnapshot(from, { ...s, data: b.data });
  }

  /** Answers an append or snapshot positively: our log matches the sender's up to `index`. */
  private accept(to: NodeId, index: number): void {
    this.send(to, { type: "AppR", term: this.term, index, reject: false, hint: 0, hintTerm: 0 });
  }

  private handleSnapshot(from: NodeId, s: Snapshot): void {
    if (s.index <= this.commit) {
      this.accept(from, this.commit);
      return;
    }
    if (this.termAt(s.index) === s.term) {
      this.commitTo(s.index);
      this.accept(from, this.lastIndex);
      return;
    }
    this.storage.saveSnapshot(s, true);
    this.log = [];
    this.snapshot = s;
    this.snapCrc = undefined;
    this.snapIndex = s.index;
    this.snapTerm = s.term;
    this.commit = s.index;
    this.config = s.config;
    this.configIndex = s.index;
    this.restored = s;
    this.accept(from, this.lastIndex);
  }

  private commitTo(index: number): void {
    if (index > this.commit) this.commit = index;
  }

  // ---------------------------------------------------------------- leader

  private checkQuorum(): boolean {
    let active = 0;
    for (const v of this.config?.voters ?? []) {
      const pr = this.progress.get(v);
      if (v === this.id || pr?.active) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.active = false;
    return active >= this.quorum();
  }

  private stepLeader(from: NodeId, m: Envelope): void {
    const pr = this.progress.get(from);
    if (!pr) return;
    switch (m.type) {
      case "AppR": {
        pr.active = true;
        if (m.reject) {
          if (pr.state === "replicate") {
            if (m.index <= pr.match) return;
            pr.next = pr.match + 1;
          } else {
            if (pr.next - 1 !== m.index) return;
            let probe = m.hint;
            while (probe > this.snapIndex && (this.termAt(probe) ?? 0) > m.hintTerm) probe--;
            pr.next = Math.max(Math.min(m.index, probe + 1), pr.match + 1);
          }
          pr.state = "probe";
          pr.snap = undefined;
          pr.inflight = [];
          pr.paused = false;
          this.sendAppend(from);
          return;
        }
        const wasPaused = pr.paused;
        if (m.index > pr.match) {
          pr.match = m.index;
          pr.next = Math.max(pr.next, m.index + 1);
          if (pr.state === "probe") pr.state = "replicate";
          else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
            pr.state = "replicate";
            pr.snap = undefined;
          }
          pr.inflight = pr.inflight.filter((i) => i > m.index);
          pr.paused = false;
          if (this.maybeCommit()) this.broadcastAppend();
          else if (wasPaused || pr.next <= this.lastIndex) this.sendAppend(from);
          if (from === this.transferee && pr.match === this.lastIndex) {
            this.send(from, { type: "TimeoutNow", term: this.term });
          }
        } else if (pr.state === "snapshot" && m.index >= pr.pendingSnapshot) {
          pr.state = "probe";
          pr.snap = undefined;
          pr.next = m.index + 1;
          this.sendAppend(from);
        }
        return;
      }
      case "HbR": {
        pr.active = true;
        pr.paused = false;
        if (m.last !== undefined && m.last < pr.match) {
          // The follower lost entries it had acknowledged (it restarted with
          // empty storage): probe again from what it holds now.
          pr.match = m.last;
          pr.next = m.last + 1;
          pr.state = "probe";
          pr.snap = undefined;
          pr.inflight = [];
        }
        if (pr.state === "snapshot" && this.ticks - pr.snapshotSentAt >= this.opts.electionTicks) {
          // Chunks were probably lost: resend from the last acknowledged one.
          pr.snapNext = pr.snapAcked;
          pr.snapshotSentAt = this.ticks;
          this.sendSnapshotChunks(from, pr);
        }
        if (pr.state === "replicate" && pr.inflight.length >= this.opts.maxInflight) {
          pr.inflight.shift(); // messages may have been lost: let one more through
        }
        if (pr.match < this.lastIndex) this.sendAppend(from);
        if (m.ctx !== undefined) this.ackRead(from, m.ctx);
        return;
      }
      case "SnapR": {
        pr.active = true;
        if (pr.state !== "snapshot" || !pr.snap || m.index !== pr.snap.index) return;
        pr.snapshotSentAt = this.ticks;
        pr.snapAcked = Math.floor(m.offset / this.opts.snapshotChunkBytes);
        pr.snapNext = Math.max(pr.snapNext, pr.snapAcked);
        this.sendSnapshotChunks(from, pr);
        return;
      }
    }
  }

  private maybeCommit(): boolean {
    const voters = this.config?.voters ?? [];
    if (!voters.length) return false;
    const matches = voters.map((v) =>
      v === this.id ? this.persistedIndex : this.progress.get(v)?.match ?? 0
    )
      .sort((a, b) => b - a);
    const q = matches[this.quorum() - 1];
    if (q > this.commit && this.termAt(q) === this.term) {
      this.commit = q;
      if (!this.committedInTerm) {
        this.committedInTerm = true;
        const waiting = this.waitingReads;
        this.waitingReads = [];
        for (const r of waiting) this.leaderRead(r.ctx, r.from);
      }
      if (this.config && !this.config.voters.includes(this.id) && this.configIndex <= this.commit) {
        // We committed a configuration that removed us: step down.
        this.becomeFollower(this.term, undefined);
      }
      return true;
    }
    return false;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private broadcastHeartbeat(ctx: string | undefined): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(id, {
        type: "Hb",
        term: this.term,
        commit: Math.min(pr.match, this.commit),
        ctx,
        lc: this.commit,
        lct: this.termAt(this.commit),
      });
    }
  }

  private sendAppend(to: NodeId): void {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || this.role !== "leader") return;
    if (pr.state === "snapshot") return;
    if (pr.paused) return;
    if (pr.state === "replicate" && pr.inflight.length >= this.opts.maxInflight) return;
    const prevIndex = pr.next - 1;
    const prevTerm = this.termAt(prevIndex);
    if (prevTerm === undefined || pr.next < this.firstIndex) {
      if (!this.snapshot) return;
      pr.state = "snapshot";
      pr.pendingSnapshot = this.snapshot.index;
      pr.snapshotSentAt = this.ticks;
      pr.snap = this.snapshot;
      pr.snapCrc = this.snapCrc ??= crc32(this.snapshot.data);
      pr.snapAcked = 0;
      pr.snapNext = 0;
      this.sendSnapshotChunks(to, pr);
      return;
    }
    const entries: Entry[] = [];
    let bytes = 0;
    for (let i = pr.next; i <= this.lastIndex && entries.length < this.opts.maxEntriesPerMsg; i++) {
      const e = this.log[i - this.snapIndex - 1];
      const size = (e.data?.byteLength ?? 0) + 24;
      if (entries.length && bytes + size > this.opts.maxBytesPerMsg) break;
      entries.push(e);
      bytes += size;
    }
    if (pr.state === "probe") {
      // Probe: one message, then wait for the answer or the next heartbeat.
      pr.paused = true;
    } else if (entries.length) {
      const last = entries[entries.length - 1].index;
      pr.next = last + 1;
      pr.inflight.push(last);
    }
    this.send(to, {
      type: "App",
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.commit,
    });
  }

  /** Sends the chunks of `pr.snap` the window allows (at least one, even for empty data). */
  private sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const s = pr.snap;
    if (!s) return;
    const size = this.opts.snapshotChunkBytes;
    const total = s.data.byteLength;
    const chunks = Math.max(1, Math.ceil(total / size));
    while (pr.snapNext < chunks && pr.snapNext - pr.snapAcked < SNAPSHOT_WINDOW) {
      const offset = pr.snapNext * size;
      this.send(to, {
        type: "Snap",
        term: this.term,
        snapshot: { ...s, data: s.data.subarray(offset, Math.min(total, offset + size)) },
        offset,
        total,
        crc: pr.snapCrc,
      });
      pr.snapNext++;
    }
  }

  // ---------------------------------------------------------------- ReadIndex

  private leaderRead(ctx: string, from: NodeId | undefined): void {
    if (!this.committedInTerm) {
      this.waitingReads.push({ ctx, from });
      return;
    }
    if ((this.config?.voters.length ?? 0) <= 1) {
      this.answerRead(ctx, from, this.commit);
      return;
    }
    this.pendingReads.push({ ctx, index: this.commit, from, acks: new Set([this.id]) });
    this.broadcastHeartbeat(ctx);
  }

  private ackRead(from: NodeId, ctx: string): void {
    const i = this.pendingReads.findIndex((r) => r.ctx === ctx);
    if (i < 0) return;
    const r = this.pendingReads[i];
    if (this.config?.voters.includes(from)) r.acks.add(from);
    let count = 0;
    for (const v of this.config?.voters ?? []) if (r.acks.has(v)) count++;
    if (count < this.quorum()) return;
    const done = this.pendingReads.splice(0, i + 1);
    for (const d of done) this.answerRead(d.ctx, d.from, d.index);
  }

  private answerRead(ctx: string, from: NodeId | undefined, index: number): void {
    if (from === undefined) this.readStates.push({ ctx, index });
    else this.send(from, { type: "ReadIndexR", term: this.term, ctx, index });
  }

  private refuseRead(ctx: string, from: NodeId | undefined): void {
    if (from === undefined) this.readStates.push({ ctx, index: -1 });
    else this.send(from, { type: "ReadIndexR", term: this.term, ctx, index: -1 });
  }

  private send(to: NodeId, msg: RaftMessage): void {
    const env = msg as Envelope;
    if (this.config) env.cluster = this.config.cluster;
    this.outbox.push({ to, msg: env });
  }
}
