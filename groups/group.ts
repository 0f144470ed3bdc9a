/**
 * The {@linkcode Group} handle returned by `groups.join`.
 *
 * @module
 */
import { abortable, type GroupId, type PeerId, type WaitOptions } from "@mosaik/transport";
import type { Member } from "./_member.ts";
import type { ConflictEvent, ResetEvent } from "./_incarnation_events.ts";
import type { Role } from "./_messages.ts";
import { GroupClosedError } from "./errors.ts";
import type { LeadershipPreference } from "./config.ts";

export type { ConflictEvent, ResetEvent, Role };

/** Read consistency of {@linkcode Group.query}. */
export type Consistency = "strong" | "weak";

/** Options of {@linkcode Group.query}. */
export interface QueryOptions {
  /**
   * `"strong"` (default) is linearizable: the leader confirms its leadership
   * with a quorum (ReadIndex) and the read waits until this member applied
   * that point. `"weak"` reads the local state as it is now (may be stale).
   */
  consistency?: Consistency;
}

/** Counters and gauges of a group member. */
export interface GroupMetrics {
  /** Current Raft term. */
  term: number;
  /** Role of this member. */
  role: "follower" | "precandidate" | "candidate" | "leader";
  /** Highest log index known committed. */
  commitIndex: number;
  /** Highest index applied to the state machine. */
  appliedIndex: number;
  /** commitIndex − appliedIndex. */
  applyLag: number;
  /** Index of the last log entry. */
  lastIndex: number;
  /** Elections this member started. */
  elections: number;
  /** Times a (new) leader became known. */
  leaderChanges: number;
  /** Members with a live bond to this one. */
  bonds: number;
  /** Entries this member served to members catching up in parallel. */
  servedToCatchUp: number;
  /** Snapshots this member pulled from several peers at once and installed. */
  snapshotsPulled: number;
  /** Snapshot pieces and log ranges from peers refused as not the leader's (a lying or stale peer). */
  refusedFromPeers: number;
  /** Conflicts with other incarnations of the group reported so far (see {@linkcode Group.onConflict}). */
  conflicts: number;
}

/** Voters and learners of the current configuration. */
export interface Members {
  /** Members that vote. */
  voters: PeerId[];
  /** Members that only replicate. */
  learners: PeerId[];
}

/** Waiting on group state; every wait takes `{ signal }` and rejects with a `ClosedError` once the group is closed. */
export interface GroupWhen {
  /** Resolves with the leader's PeerId as soon as one is known. */
  leaderElected(options?: WaitOptions): Promise<PeerId>;
  /** Resolves with the next leader different from the current one. */
  leaderChanged(options?: WaitOptions): Promise<PeerId>;
  /** Resolves when this node is a member and knows a leader. */
  online(options?: WaitOptions): Promise<void>;
  /** Resolves when this member knows that `index` is committed (it may not have applied it yet). */
  committed(index: number, options?: WaitOptions): Promise<void>;
  /** Resolves when this member applied `index` to its state machine (reads here see it). */
  applied(index: number, options?: WaitOptions): Promise<void>;
}

let openGroup: <C, R, Q, QR>(member: Member) => Group<C, R, Q, QR>;

/**
 * A handle on a replicated state machine, made by `groups.join`. Several
 * handles of the same group on one node share one member; closing a handle
 * stops the member only when it was the last one.
 *
 * @example
 * ```ts ignore
 * await using group = network.groups.join({
 *   key: "counter",
 *   stateMachine: counter,
 *   config: { bootstrapExpect: 3 },
 * });
 * await group.when.leaderElected();
 * const { index, result } = await group.execute({ add: 5 });
 * const value = await group.query("value", { consistency: "strong" });
 * ```
 */
export class Group<C = unknown, R = unknown, Q = unknown, QR = unknown> implements AsyncDisposable {
  #member: Member;
  #closed = false;
  /** The group's id. */
  readonly id: GroupId;

  private constructor(member: Member) {
    this.#member = member;
    this.id = member.id;
  }

  static {
    openGroup = <C, R, Q, QR>(member: Member) => new Group<C, R, Q, QR>(member);
  }

  /** Waiting on group state. */
  get when(): GroupWhen {
    const member = this.#member;
    const r = member.replica;
    const leader = () => r.leader as PeerId | undefined;
    return {
      leaderElected: async (o) => {
        await member.waitFor(() => leader() !== undefined, o);
        return leader()!;
      },
      leaderChanged: async (o) => {
        const now = leader();
        await member.waitFor(() => leader() !== undefined && leader() !== now, o);
        return leader()!;
      },
      online: (o) => member.waitFor(() => this.online, o),
      committed: (index, o) => member.waitFor(() => r.core.commit >= index, o),
      applied: (index, o) => member.waitFor(() => r.applied >= index, o),
    };
  }

  /** The current leader, if known. */
  get leader(): PeerId | undefined {
    return this.#member.replica.leader as PeerId | undefined;
  }

  /** This member's role in the current term. */
  get role(): Role {
    return this.#member.replica.core.role;
  }

  /** The current Raft term as this member knows it. */
  get term(): number {
    return this.#member.replica.core.term;
  }

  /** Whether this node is the leader. */
  get isLeader(): boolean {
    return this.role === "leader";
  }

  /** Whether this node is a voter (not only a learner) of the latest configuration. */
  get isVoter(): boolean {
    return this.#member.replica.core.isVoter;
  }

  /** Whether this node is a member and knows a leader. */
  get online(): boolean {
    const core = this.#member.replica.core;
    return core.isMember && core.lead !== undefined;
  }

  /** Voters and learners of the latest configuration. */
  get members(): Members {
    const c = this.#member.replica.core.config;
    return {
      voters: [...(c?.voters ?? [])] as PeerId[],
      learners: [...(c?.learners ?? [])] as PeerId[],
    };
  }

  /** Peers bonded to this member. */
  get bonds(): PeerId[] {
    return this.#member.bonded;
  }

  /** Highest index this member knows committed. */
  get commitIndex(): number {
    return this.#member.replica.core.commit;
  }

  /** Highest index this member applied to its state machine. */
  get appliedIndex(): number {
    return this.#member.replica.applied;
  }

  /** Counters and gauges. */
  get metrics(): GroupMetrics {
    const r = this.#member.replica;
    return {
      term: r.core.term,
      role: r.core.role,
      commitIndex: r.core.commit,
      appliedIndex: r.applied,
      applyLag: r.core.commit - r.applied,
      lastIndex: r.core.lastIndex,
      elections: r.core.elections,
      leaderChanges: this.#member.leaderChanges,
      bonds: this.#member.bonded.length,
      servedToCatchUp: r.served,
      snapshotsPulled: r.pulled.snapshots,
      refusedFromPeers: r.pulled.refused,
      conflicts: this.#member.incarnations.conflicts,
    };
  }

  /**
   * Replicates a command and resolves once it is committed and applied on
   * this member, exactly once (a retried command is deduplicated by client
   * id and sequence number). Fails with `GroupOfflineError` (no leader
   * reachable), `TimeoutError` (outcome unknown), `NotMemberError` or
   * {@linkcode GroupClosedError}. Aborting the
   * signal stops the wait, not the command: it may still be applied.
   */
  async execute(command: C, options?: WaitOptions): Promise<{ index: number; result: R }> {
    const { index, results } = await this.executeMany([command], options);
    return { index, result: results[0] };
  }

  /** Replicates several commands atomically in one log entry (see {@linkcode Group.execute}). */
  executeMany(commands: C[], options?: WaitOptions): Promise<{ index: number; results: R[] }> {
    if (this.#closed) return Promise.reject(new GroupClosedError("the handle is closed"));
    const done = this.#member.replica.execute(commands) as Promise<{ index: number; results: R[] }>;
    return abortable(done, options?.signal);
  }

  /** Answers a query; strong (linearizable) by default. */
  query(query: Q, options: QueryOptions & WaitOptions = {}): Promise<QR> {
    if (this.#closed) return Promise.reject(new GroupClosedError("the handle is closed"));
    const strong = (options.consistency ?? "strong") === "strong";
    return abortable(this.#member.replica.query(query, strong) as Promise<QR>, options.signal);
  }

  /**
   * Calls `fn` when this member discarded its history because another
   * incarnation of the group won (see the package doc); returns an unsubscribe.
   */
  onReset(fn: (event: ResetEvent) => void): () => void {
    return this.#member.incarnations.onReset(fn);
  }

  /**
   * Calls `fn` when this member met another incarnation of the group while
   * both hold writes (see the package doc): they stay apart until
   * {@linkcode Group.resolve} chooses one. Returns an unsubscribe.
   */
  onConflict(fn: (event: ConflictEvent) => void): () => void {
    return this.#member.incarnations.onConflict(fn);
  }

  /** The incarnation (cluster id) this member belongs to; undefined until it is in a group. */
  get incarnation(): string | undefined {
    return this.#member.replica.core.cluster;
  }

  /** Other incarnations this member is in conflict with (unresolved). */
  get conflicts(): string[] {
    return [...this.#member.replica.conflicts];
  }

  /**
   * Ends a conflict between incarnations by keeping `winner` (a cluster id
   * from {@linkcode Group.conflicts} or {@linkcode Group.incarnation}). When
   * `winner` is this member's own incarnation, the others are no longer
   * reported; otherwise this member discards its history (the writes of its
   * incarnation it holds are lost here), rejoins `winner` as a new member and
   * reports it through {@linkcode Group.onReset}. Resolve on every member of
   * the losing incarnation, or restart those members with empty storage.
   * Throws a `RangeError` (and discards nothing) when `winner` is neither
   * this member's incarnation nor one of a bonded member.
   */
  resolve(winner: string): void {
    this.#member.replica.resolve(winner);
  }

  /**
   * Turns this learner into a voter without leaving the group: the leader
   * adds it to the voters once it caught up. Resolves when this node is a
   * voter. `preference` replaces the leadership preference (for example a
   * reader that never led becomes a writer that may).
   *
   * @example
   * ```ts ignore
   * const reader = groups.join({ key: "k", stateMachine, config: { learner: true } });
   * await reader.promote({ preference: "normal" });
   * ```
   */
  async promote(options: { preference?: LeadershipPreference } & WaitOptions = {}): Promise<void> {
    const replica = this.#member.replica;
    replica.promote(options.preference);
    await this.#member.waitFor(() => replica.core.isVoter, options);
  }

  /** Leaves the group through the log, then stops. */
  async leave(options?: WaitOptions): Promise<void> {
    await abortable(this.#member.replica.leave(), options?.signal);
    await this.close();
  }

  /** Closes this handle; the last handle stops the member (leadership is handed over first). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (--this.#member.handles === 0) await this.#member.stop();
  }

  /** Same as {@linkcode Group.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A new handle on `member` (private to the package). */
export function createGroup<C, R, Q, QR>(member: Member): Group<C, R, Q, QR> {
  member.handles++;
  return openGroup<C, R, Q, QR>(member);
}

/** A read-only view on `member` for diagnostics: not a handle, never closed. */
export function viewGroup(member: Member): Group {
  return openGroup(member);
}
