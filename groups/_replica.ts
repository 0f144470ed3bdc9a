// A replica: the Raft core driven through its ready() boundary, with the
// state machine (`_apply.ts`), client requests (`_requests.ts`), formation
// and incarnations (`_formation.ts`), membership and leaving (`_membership.ts`),
// parallel catch-up (`_catch_up.ts`), snapshots pulled from several peers
// (`_snapshot_pull.ts`) and group commit (`_outbox.ts`). Driven by tick()
// and receive(), deterministic unless its storage syncs in groups; sends
// through a callback.
import type { LeadershipPreference, NodeId } from "./_messages.ts";
import { RaftCore } from "./_raft.ts";
import { EntryType } from "./storage.ts";
import type { StateMachine } from "./state_machine.ts";
import type { ReplicaMessage, ReplicaOptions } from "./_replica_types.ts";
import { GroupClosedError, NotMemberError } from "./errors.ts";
import { Applier } from "./_apply.ts";
import { Requests } from "./_requests.ts";
import { CatchUp } from "./_catch_up.ts";
import { SnapshotPull } from "./_snapshot_pull.ts";
import { Formation } from "./_formation.ts";
import { Membership } from "./_membership.ts";
import { Outbox } from "./_outbox.ts";

/** See the file comment. */
export class Replica {
  core: RaftCore;
  readonly opts: ReplicaOptions;
  now = 0;
  closed = false;
  readonly #applier: Applier;
  readonly #requests: Requests;
  readonly #catchUp: CatchUp;
  readonly #pull: SnapshotPull;
  readonly #membership: Membership;
  readonly #formation: Formation;
  #bonds = new Set<NodeId>();
  #lastLead: NodeId | undefined;
  #hadLeader = false;
  #scheduled = false;
  #persistScheduled = false;
  #noticeScheduled = false;
  readonly #outbox: Outbox;

  constructor(opts: ReplicaOptions) {
    this.opts = { ...opts, raft: { ...opts.raft, lazyCommitNotice: opts.later !== undefined } };
    this.#applier = new Applier(opts.stateMachine, opts.maxSessions);
    this.core = new RaftCore(opts.id, opts.storage, opts.random, this.opts.raft);
    this.#outbox = new Outbox({
      groupCommit: opts.storage.groupCommit,
      core: () => this.core,
      closed: () => this.closed,
      send: (to, msg) => this.opts.send(to, msg),
      flushed: () => this.#flush(),
      failed: () => this.close(),
    });
    const { retryTicks, timeoutTicks } = opts;
    const core = () => this.core;
    const now = () => this.now;
    const bonds = () => this.#bonds;
    const send = (to: NodeId, msg: ReplicaMessage) => this.#outbox.send(to, msg);
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
    this.#pull = new SnapshotPull({
      core,
      now,
      bonds,
      clusterOf: (peer) => this.#formation.status.get(peer)?.cluster,
      send,
      enabled: !!opts.catchUpGap,
      pieceBytes: opts.snapshotPieceBytes ?? 128 * 1024,
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

  /** Snapshots pulled from several peers and installed; pieces and ranges refused as not the leader's. */
  get pulled(): { snapshots: number; refused: number } {
    return {
      snapshots: this.#pull.installed,
      refused: this.#pull.rejected + this.#catchUp.rejected,
    };
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
    this.#pull.drive();
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
      case "FetchSum":
        this.#catchUp.serveSum(from, msg);
        break;
      case "FetchSumR":
        this.#catchUp.onSum(from, msg);
        break;
      case "SnapPlan":
        this.#pull.servePlan(from, msg);
        break;
      case "SnapPlanR":
        this.#pull.onPlan(from, msg);
        break;
      case "SnapGet":
        this.#pull.serve(from, msg);
        break;
      case "SnapPiece":
        this.#pull.onPiece(from, msg);
        break;
      default:
        if (this.#formation.rejects(msg.cluster)) break;
        this.core.step(from, msg);
        if (this.core.lead !== from || this.core.term !== msg.term) break;
        if (msg.type === "App") {
          this.#catchUp.maybeStart(from, msg.prevIndex, msg.prevTerm, msg.cluster);
        } else if (msg.type === "Hb" && msg.lc !== undefined && msg.lct !== undefined) {
          this.#catchUp.maybeStart(from, msg.lc, msg.lct, msg.cluster);
        } else if (msg.type === "Snap") this.#pull.maybeStart(from, msg);
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
      this.#outbox.send(this.core.lead, { type: "Prop", data: batch });
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
      for (const o of rd.messages) this.#outbox.send(o.to, o.msg);
      if (rd.mustPersist) {
        if (!this.opts.defer) {
          core.advance();
          continue;
        }
        this.#persistLater(this.opts.defer);
      }
      if (!core.hasReady) break;
    }
    const later = this.opts.later;
    if (later && core.leader?.commitNoticeDue) this.#announceLater(later);
    this.#outbox.sync();
  }

  /** Followers not sent the new commit index in this burst hear of it after it. */
  #announceLater(later: (fn: () => void) => void): void {
    if (this.#noticeScheduled) return;
    this.#noticeScheduled = true;
    later(() => {
      this.#noticeScheduled = false;
      if (this.closed) return;
      this.core.leader?.announceCommit();
      this.#flush();
    });
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
    // Snapshots fall on multiples of snapshotEvery, the same indexes on every
    // member, so peers hold the leader's snapshot and can serve its pieces.
    const every = this.opts.snapshotEvery;
    while (this.applied < commit) {
      const boundary = (Math.floor(this.applied / every) + 1) * every;
      const hi = Math.min(commit, boundary);
      this.#applier.apply(
        this.core.entries(this.applied + 1, hi),
        (b, index, results) => this.#requests.onApplied(b, index, results),
      );
      if (hi === boundary) this.core.compact(hi, this.#applier.snapshot());
    }
    this.opts.onEvent?.({ type: "applied", index: commit });
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
    // The storage epoch, term and vote survive: this member lost nothing by
    // accident, and the incarnation it joins may list it as a voter with
    // that epoch (formed at the same time as the one it gives up). A new
    // epoch would make it a stranger there: with every other voter of that
    // incarnation waiting for its vote, nobody could lead and re-add it.
    const { term, vote, epoch } = this.core;
    this.opts.storage.reset();
    this.opts.storage.setHardState({ term, vote, epoch });
    this.#applier.reset();
    this.#catchUp.reset();
    this.#pull.reset();
    this.core = new RaftCore(this.id, this.opts.storage, this.opts.random, this.opts.raft);
    for (const o of pending) this.#outbox.send(o.to, o.msg);
    this.opts.onEvent?.({ type: "reset", from: mine, to: theirs, discarded, committed });
  }
}
