// A replica: the Raft core driven through its ready() boundary, with the
// state machine (`_apply.ts`), client requests (`_requests.ts`), formation
// and incarnations (`_formation.ts`), membership and leaving (`_membership.ts`) and
// parallel catch-up (`_catch_up.ts`). Pure and deterministic: driven by
// tick() and receive(); sends through a callback.
import type { Envelope, LeadershipPreference, NodeId, RaftOptions } from "./_messages.ts";
import { RaftCore } from "./_raft.ts";
import { EntryType, type Storage } from "./storage.ts";
import type { StateMachine } from "./state_machine.ts";
import { GroupClosedError, NotMemberError } from "./errors.ts";
import { Applier } from "./_apply.ts";
import { Requests } from "./_requests.ts";
import { CatchUp, type CatchUpMessage } from "./_catch_up.ts";
import { Formation, type StatusMessage } from "./_formation.ts";
import { Membership, type MembershipMessage } from "./_membership.ts";

/** Messages of the group protocol besides Raft's. */
export type ReplicaMessage =
  | Envelope
  | CatchUpMessage
  | StatusMessage
  | { type: "Prop"; data: Uint8Array[] }
  | MembershipMessage;

/** Events a replica reports to its driver. */
export type ReplicaEvent =
  | { type: "leader"; leader: NodeId | undefined }
  | { type: "applied"; index: number }
  | {
    type: "reset";
    /** The incarnation this member gave up. */
    from: string;
    /** The incarnation that won. */
    to: string;
    /** Log entries discarded (committed in the losing incarnation: `committed`). */
    discarded: number;
    committed: number;
  }
  | {
    type: "conflict";
    /** Our incarnation. */
    mine: string;
    /** The other incarnation; both hold writes, so neither is given up automatically. */
    theirs: string;
    /** The member of the other incarnation that reported it. */
    peer: NodeId;
  };

/** Options of a replica; times in ticks. */
export interface ReplicaOptions {
  id: NodeId;
  storage: Storage;
  stateMachine: StateMachine;
  random: () => number;
  send: (to: NodeId, msg: ReplicaMessage) => void;
  onEvent?: (e: ReplicaEvent) => void;
  raft?: Partial<RaftOptions>;
  /** Join as a non-voting learner. */
  learner?: boolean;
  /** Ranks peers for catch-up fetches, lower first (the member passes RTTs). */
  rank?: (peer: NodeId) => number;
  /**
   * Form a new group once this many blank members (self included) are
   * bonded; undefined: never form, only join a formed group.
   */
  bootstrapExpect?: number;
  /** Ticks to wait for bonds before forming a new group. */
  formationTicks: number;
  /** Ticks a member may be absent before the leader removes it. */
  graceTicks: number;
  /** Ticks between resubmissions of an unanswered request. */
  retryTicks: number;
  /** Ticks before a request fails. */
  timeoutTicks: number;
  /** Ticks between status messages to bonded peers. */
  statusTicks: number;
  /** Take a snapshot every this many applied entries. */
  snapshotEvery: number;
  /** Maximum client sessions kept (least recently used evicted, deterministically). */
  maxSessions: number;
  /** Random client id (unique per replica incarnation). */
  clientId: string;
  /**
   * A follower this many entries behind the leader fetches the gap from
   * several peers in parallel (0 = off). Default 0.
   */
  catchUpGap?: number;
  /** Entries per fetch request. Default 256. */
  fetchBatch?: number;
  /**
   * Runs the leader's log write later (after its messages went out), so the
   * leader's fsync overlaps replication. Default: write at once.
   */
  defer?: (fn: () => void) => void;
}

/** See the file comment. */
export class Replica {
  core: RaftCore;
  readonly opts: ReplicaOptions;
  now = 0;
  closed = false;
  readonly #applier: Applier;
  readonly #requests: Requests;
  readonly #catchUp: CatchUp;
  readonly #membership: Membership;
  readonly #formation: Formation;
  #bonds = new Set<NodeId>();
  #lastLead: NodeId | undefined;
  #hadLeader = false;
  #scheduled = false;
  #persistScheduled = false;

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.#applier = new Applier(opts.stateMachine, opts.maxSessions);
    this.core = new RaftCore(opts.id, opts.storage, opts.random, opts.raft);
    const { retryTicks, timeoutTicks } = opts;
    const core = () => this.core;
    const now = () => this.now;
    const bonds = () => this.#bonds;
    const send = (to: NodeId, msg: ReplicaMessage) => this.opts.send(to, msg);
    this.#formation = new Formation({
      core,
      now,
      bonds,
      writes: () => this.#writes(),
      learner: () => !!this.opts.learner,
      send,
      reset: (mine, theirs) => this.#reset(mine, theirs),
      conflict: (mine, theirs, peer) =>
        this.opts.onEvent?.({ type: "conflict", mine, theirs, peer }),
      random: opts.random,
      bootstrapExpect: opts.bootstrapExpect,
      formationTicks: opts.formationTicks,
    });
    const status = () => this.#formation.status;
    this.#requests = new Requests({
      clientId: opts.clientId,
      retryTicks,
      timeoutTicks,
      now,
      hadLeader: () => this.#hadLeader,
      readIndex: (ctx) => {
        if (this.core.lead !== undefined) this.core.readIndex(ctx);
      },
    });
    this.#catchUp = new CatchUp({
      core,
      now,
      bonds,
      clusterOf: (peer) => this.#formation.status.get(peer)?.cluster,
      send,
      gap: opts.catchUpGap ?? 0,
      batch: opts.fetchBatch ?? 256,
      retryTicks,
      timeoutTicks,
      rank: opts.rank,
    });
    this.#membership = new Membership({
      core,
      now,
      bonds,
      status,
      send,
      graceTicks: opts.graceTicks,
      retryTicks,
      timeoutTicks,
    });
    this.#flush();
  }

  get id(): NodeId {
    return this.opts.id;
  }

  /** The replicated state machine. */
  get sm(): StateMachine {
    return this.#applier.sm;
  }

  /** Highest index applied to the state machine. */
  get applied(): number {
    return this.#applier.applied;
  }

  /** Entries this replica served to catching-up peers (for tests and metrics). */
  get served(): number {
    return this.#catchUp.served;
  }

  /** Current leader if known. */
  get leader(): NodeId | undefined {
    return this.core.lead;
  }

  // ------------------------------------------------------------ driver

  tick(): void {
    if (this.closed) return;
    this.now++;
    this.core.tick();
    if (this.now % this.opts.statusTicks === 0) this.#broadcastStatus();
    this.#formation.tick();
    this.#membership.reconcile();
    this.#requests.tick();
    this.#membership.tick();
    this.#catchUp.drive();
    this.#flush();
  }

  receive(from: NodeId, msg: ReplicaMessage): void {
    if (this.closed) return;
    switch (msg.type) {
      case "Status":
        this.#formation.onStatus(from, msg);
        break;
      case "Prop":
        if (this.core.role === "leader") this.core.propose(msg.data);
        break;
      case "Leave":
      case "Left":
        this.#membership.receive(from, msg);
        break;
      case "Fetch":
        this.#catchUp.serve(from, msg);
        break;
      case "Fetched":
        this.#catchUp.onFetched(from, msg);
        break;
      default:
        if (this.#formation.rejects(msg.cluster)) break;
        this.core.step(from, msg);
        if (this.core.lead !== from || this.core.term !== msg.term) break;
        if (msg.type === "App") {
          this.#catchUp.maybeStart(from, msg.prevIndex, msg.prevTerm, msg.cluster);
        } else if (msg.type === "Hb" && msg.lc !== undefined && msg.lct !== undefined) {
          this.#catchUp.maybeStart(from, msg.lc, msg.lct, msg.cluster);
        }
    }
    this.#flush();
  }

  /** Replaces the set of peers with a live bond. */
  setBonds(peers: Iterable<NodeId>): void {
    const next = new Set(peers);
    next.delete(this.id);
    for (const p of next) {
      if (!this.#bonds.has(p)) this.#formation.sendStatus(p);
    }
    for (const p of this.#bonds) {
      if (!next.has(p)) {
        this.#formation.status.delete(p);
        this.#membership.unbonded(p);
      }
    }
    this.#bonds = next;
    this.#flush();
  }

  /** Peers with a live bond. */
  get bonds(): ReadonlySet<NodeId> {
    return this.#bonds;
  }

  // ------------------------------------------------------------ client API

  execute(commands: unknown[]): Promise<{ index: number; results: unknown[] }> {
    if (this.closed) return Promise.reject(new GroupClosedError("the group is closed"));
    if (this.core.config && !this.core.isMember) {
      return Promise.reject(new NotMemberError("this node is not a member of the group"));
    }
    if (!commands.length) return Promise.reject(new RangeError("no commands"));
    const done = this.#requests.execute(commands);
    this.#schedule();
    return done;
  }

  query(query: unknown, strong: boolean): Promise<unknown> {
    if (!strong) return Promise.resolve(this.sm.query(query));
    if (this.closed) return Promise.reject(new GroupClosedError("the group is closed"));
    const done = this.#requests.read(query);
    this.#schedule();
    return done;
  }

  /**
   * Turns this learner into a voter candidate: its status stops saying
   * learner, and the leader adds it to the voters once it caught up.
   */
  promote(preference?: LeadershipPreference): void {
    if (preference !== undefined) {
      this.core.opts.preference = preference;
      this.opts.raft = { ...this.opts.raft, preference };
    }
    if (!this.opts.learner) return;
    this.opts.learner = false;
    this.#broadcastStatus();
    this.#flush();
  }

  /** Incarnations met that hold writes, as ours does (see {@linkcode Replica.resolve}). */
  get conflicts(): ReadonlySet<string> {
    return this.#formation.conflicts;
  }

  /**
   * Ends a conflict between incarnations: keeps `winner`. When it is not
   * ours, this member erases its state and rejoins `winner` as a new member.
   */
  resolve(winner: string): void {
    if (this.closed) return;
    this.#formation.resolve(winner);
    this.#flush();
  }

  /** Removes this member through the log. */
  leave(): Promise<void> {
    const done = this.#membership.leave();
    this.#flush();
    return done;
  }

  /** Fails every pending request. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new GroupClosedError("the group was closed");
    this.#requests.close(error);
    this.#membership.close(error);
  }

  // ------------------------------------------------------------ internals

  /** Flushes once after the current synchronous burst, so commands batch into one append. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.closed) this.#flush();
    });
  }

  #proposeQueued(): void {
    const batch = this.#requests.takeBatches();
    if (!batch.length) return;
    if (this.core.role === "leader") this.core.propose(batch);
    else if (this.core.lead !== undefined) {
      this.opts.send(this.core.lead, { type: "Prop", data: batch });
    }
  }

  /** Handles everything the core has ready, until it has nothing more. */
  #flush(): void {
    const core = this.core;
    this.#proposeQueued();
    for (;;) {
      const rd = core.ready();
      if (rd.snapshot) {
        this.#applier.restore(rd.snapshot);
        this.opts.onEvent?.({ type: "applied", index: this.applied });
      }
      this.#apply();
      this.#requests.onReadStates(rd.readStates);
      this.#requests.answerReads(this.applied, (q) => this.sm.query(q));
      if (core.lead !== this.#lastLead) {
        this.#lastLead = core.lead;
        if (core.lead !== undefined) {
          this.#hadLeader = true;
          this.#requests.resubmit();
          this.#proposeQueued();
        }
        this.opts.onEvent?.({ type: "leader", leader: core.lead });
      }
      for (const o of rd.messages) this.opts.send(o.to, o.msg);
      if (rd.mustPersist) {
        if (!this.opts.defer) {
          core.advance();
          continue;
        }
        this.#persistLater(this.opts.defer);
      }
      if (!core.hasReady) return;
    }
  }

  /** Lets the leader's log write run after its messages went out. */
  #persistLater(defer: (fn: () => void) => void): void {
    if (this.#persistScheduled) return;
    this.#persistScheduled = true;
    defer(() => {
      this.#persistScheduled = false;
      if (this.closed) return; // a crash: the unwritten entries are lost, as on a real crash
      this.core.advance();
      this.#flush();
    });
  }

  #apply(): void {
    const commit = this.core.commit;
    if (commit <= this.applied) return;
    const entries = this.core.entries(this.applied + 1, commit);
    this.#applier.apply(
      entries,
      (b, index, results) => this.#requests.onApplied(b, index, results),
    );
    this.opts.onEvent?.({ type: "applied", index: commit });
    if (this.applied - this.#applier.snapshotIndex >= this.opts.snapshotEvery) {
      this.core.compact(this.applied, this.#applier.snapshot());
    }
  }

  /** Writes our incarnation holds here: commands applied, plus one if the log holds more. */
  #writes(): number {
    const log = this.core.log;
    for (let i = Math.max(this.applied + 1, log.firstIndex); i <= log.lastIndex; i++) {
      if (log.at(i).type === EntryType.Command) return this.#applier.commands + 1;
    }
    return this.#applier.commands;
  }

  #broadcastStatus(): void {
    for (const p of this.#bonds) this.#formation.sendStatus(p);
  }

  /** Gives up incarnation `mine`: erases everything and starts as a new, empty member. */
  #reset(mine: string, theirs: string): void {
    const discarded = this.core.lastIndex;
    const committed = this.core.commit;
    const pending = this.core.ready().messages; // already produced: still sent
    this.opts.storage.reset();
    this.#applier.reset();
    this.#catchUp.reset();
    this.core = new RaftCore(this.id, this.opts.storage, this.opts.random, this.opts.raft);
    for (const o of pending) this.opts.send(o.to, o.msg);
    this.opts.onEvent?.({ type: "reset", from: mine, to: theirs, discarded, committed });
  }
}
