// A replica: the Raft core plus the state machine, exactly-once client
// sessions, client requests (execute / strong query), group formation,
// membership reconciliation and cluster-incarnation conflicts. Pure and
// deterministic: driven by tick() and receive(); sends through a callback.
import { decode, encode } from "@mosaik/transport";
import type { Envelope, LeadershipPreference, NodeId, RaftOptions } from "./_raft.ts";
import { RaftCore } from "./_raft.ts";
import type { Config, Entry, Snapshot, Storage } from "./storage.ts";
import { EntryType } from "./storage.ts";
import type { StateMachine } from "./state_machine.ts";
import { NotMemberError, OfflineError, TimeoutError } from "./errors.ts";

/** Messages of the group protocol besides Raft's. */
export type ReplicaMessage =
  | Envelope
  | { type: "Prop"; data: Uint8Array[] }
  | {
    type: "Status";
    cluster?: string;
    commit: number;
    learner: boolean;
    lead?: string;
    /** Most applied commands the sender knows of in its incarnation. */
    best?: number;
    /** The sender never becomes leader. */
    never?: boolean;
  }
  | { type: "Leave" }
  | { type: "Left" }
  | { type: "Fetch"; from: number; to: number; at: number; atTerm: number; cluster?: string }
  | { type: "Fetched"; from: number; entries: Entry[]; cluster?: string };

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
  /** Ticks to wait for peers before forming a new group. */
  formationTicks: number;
  /** Wait for this many members (self included) before forming. */
  bootstrapExpect?: number;
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

interface CatchUp {
  /** Next index to append. */
  cursor: number;
  /** The leader's point (index, term) every serving peer must hold. */
  at: number;
  atTerm: number;
  chunks: Map<number, Entry[]>;
  inflight: Map<NodeId, { from: number; to: number; sent: number }>;
  refused: Set<NodeId>;
  started: number;
  /** Term and leader the point came from: the session ends when either changes. */
  term: number;
  leader: NodeId;
}

interface Session {
  acked: number;
  last: number;
  results: Map<number, unknown>;
}

interface PendingCommand {
  seq: number;
  commands: unknown[];
  start: number;
  sent: number;
  resolve: (v: { index: number; results: unknown[] }) => void;
  reject: (e: Error) => void;
}

interface PendingRead {
  ctx: string;
  query: unknown;
  start: number;
  sent: number;
  index: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface PeerStatus {
  cluster?: string;
  commit: number;
  learner: boolean;
  best: number;
  never: boolean;
}

/** See the file comment. */
export class Replica {
  core: RaftCore;
  readonly opts: ReplicaOptions;
  readonly sm: StateMachine;
  applied = 0;
  now = 0;
  #sessions = new Map<string, Session>();
  #pending = new Map<number, PendingCommand>();
  #reads = new Map<string, PendingRead>();
  #nextSeq = 1;
  #nextRead = 1;
  #initial: Uint8Array;
  #bonds = new Set<NodeId>();
  #status = new Map<NodeId, PeerStatus>();
  #absentSince = new Map<NodeId, number>();
  #departed = new Set<NodeId>();
  #rejected = new Set<string>();
  #formationStart = 0;
  #lastLeaderSeen = 0;
  #lastLead: NodeId | undefined;
  #leaving:
    | { resolve: () => void; reject: (e: Error) => void; sent: number; start: number }
    | undefined;
  #lastSnapshot = 0;
  #hadLeader = false;
  #catchUp: CatchUp | undefined;
  /** Entries this replica served to catching-up peers (for tests and metrics). */
  served = 0;
  #outgoing: Uint8Array[] = [];
  #outgoingCommands: PendingCommand[] = [];
  #scheduled = false;
  #persistScheduled = false;
  /** Commands applied since the incarnation formed (its weight when incarnations meet). */
  #commands = 0;
  closed = false;

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.sm = opts.stateMachine;
    this.#initial = encode(this.sm.snapshot());
    this.core = new RaftCore(opts.id, opts.storage, opts.random, opts.raft);
    this.#afterRestore();
  }

  get id(): NodeId {
    return this.opts.id;
  }

  get #neverLeads(): boolean {
    return this.core.opts.preference === "never";
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
    this.#form();
    this.#reconcile();
    this.#retry();
    this.#driveCatchUp();
    this.#flush();
  }

  receive(from: NodeId, msg: ReplicaMessage): void {
    if (this.closed) return;
    switch (msg.type) {
      case "Status":
        this.#status.set(from, {
          cluster: msg.cluster,
          commit: msg.commit,
          learner: msg.learner,
          best: msg.best ?? 0,
          never: msg.never === true,
        });
        this.#checkIncarnation(from, msg.cluster);
        break;
      case "Prop":
        if (this.core.role === "leader") { for (const d of msg.data) this.#outgoing.push(d); }
        break;
      case "Leave":
        if (this.core.role === "leader") {
          if (!this.#inConfig(from, this.core.configAt(this.core.commit))) {
            this.opts.send(from, { type: "Left" });
          } else this.#departed.add(from);
        }
        break;
      case "Left":
        if (this.#leaving) {
          this.#leaving.resolve();
          this.#leaving = undefined;
        }
        break;
      case "Fetch":
        this.#serveFetch(from, msg);
        break;
      case "Fetched":
        this.#onFetched(from, msg);
        break;
      default:
        if (msg.cluster !== undefined && this.#rejected.has(msg.cluster)) break;
        this.core.step(from, msg);
        if (this.core.lead === from) this.#lastLeaderSeen = this.now;
        if (this.core.lead === from && this.core.term === msg.term) {
          if (msg.type === "App") {
            this.#maybeCatchUp(from, msg.prevIndex, msg.prevTerm, msg.cluster);
          } else if (msg.type === "Hb" && msg.lc !== undefined && msg.lct !== undefined) {
            this.#maybeCatchUp(from, msg.lc, msg.lct, msg.cluster);
          }
        }
    }
    this.#flush();
  }

  /** Replaces the set of peers with a live bond. */
  setBonds(peers: Iterable<NodeId>): void {
    const next = new Set(peers);
    next.delete(this.id);
    for (const p of next) {
      if (!this.#bonds.has(p)) this.#sendStatus(p);
    }
    for (const p of this.#bonds) {
      if (!next.has(p)) {
        this.#status.delete(p);
        this.#departed.delete(p);
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
    if (this.closed) return Promise.reject(new OfflineError("the group is closed"));
    if (this.core.config && !this.core.isMember) {
      return Promise.reject(new NotMemberError("this node is not a member of the group"));
    }
    if (!commands.length) return Promise.reject(new RangeError("no commands"));
    const seq = this.#nextSeq;
    this.#nextSeq += commands.length;
    return new Promise((resolve, reject) => {
      const p: PendingCommand = {
        seq,
        commands,
        start: this.now,
        sent: -Infinity,
        resolve,
        reject,
      };
      this.#pending.set(seq, p);
      this.#submit(p);
      this.#schedule();
    });
  }

  query(query: unknown, strong: boolean): Promise<unknown> {
    if (!strong) return Promise.resolve(this.sm.query(query));
    if (this.closed) return Promise.reject(new OfflineError("the group is closed"));
    const ctx = `${this.opts.clientId}:${this.#nextRead++}`;
    return new Promise((resolve, reject) => {
      const r: PendingRead = {
        ctx,
        query,
        start: this.now,
        sent: -Infinity,
        index: -1,
        resolve,
        reject,
      };
      this.#reads.set(ctx, r);
      this.#submitRead(r);
      this.#schedule();
    });
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

  /** Removes this member through the log. */
  leave(): Promise<void> {
    const c = this.core.config;
    if (!c || !this.core.isMember) return Promise.resolve();
    // The last voter cannot be removed: the group simply stops with it.
    if (c.voters.length === 1 && c.voters[0] === this.id) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#leaving = { resolve, reject, sent: -Infinity, start: this.now };
      this.#retry();
      this.#flush();
    });
  }

  /** Fails every pending request. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.#pending.values()) p.reject(new OfflineError("the group was closed"));
    for (const r of this.#reads.values()) r.reject(new OfflineError("the group was closed"));
    this.#leaving?.reject(new OfflineError("the group was closed"));
    this.#pending.clear();
    this.#reads.clear();
  }

  // ------------------------------------------------------------ internals

  #lowestPending(): number {
    // Sequence numbers are inserted in increasing order: the first key is the lowest.
    const first = this.#pending.keys().next();
    return first.done ? this.#nextSeq : first.value;
  }

  #submit(p: PendingCommand): void {
    p.sent = this.now;
    this.#outgoingCommands.push(p);
  }

  /**
   * Encodes queued requests: calls with consecutive sequence numbers share one
   * log entry `[client, firstSeq, ack, commands]` (ack: every lower sequence
   * number is settled and may be forgotten by the session table).
   */
  #encodeOutgoing(): void {
    if (!this.#outgoingCommands.length) return;
    const queued = [...new Set(this.#outgoingCommands)].filter((p) =>
      this.#pending.get(p.seq) === p
    );
    this.#outgoingCommands = [];
    queued.sort((a, b) => a.seq - b.seq);
    const ack = this.#lowestPending() - 1;
    let run: PendingCommand[] = [];
    const emit = () => {
      if (!run.length) return;
      const first = run[0].seq;
      this.#outgoing.push(
        encode([
          this.opts.clientId,
          first,
          Math.min(ack, first - 1),
          run.flatMap((p) => p.commands),
        ]),
      );
      run = [];
    };
    let count = 0;
    for (const p of queued) {
      const prev = run[run.length - 1];
      if (prev && (prev.seq + prev.commands.length !== p.seq || count + p.commands.length > 256)) {
        emit();
        count = 0;
      }
      run.push(p);
      count += p.commands.length;
    }
    emit();
  }

  /** Flushes once after the current synchronous burst, so commands batch into one append. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.closed) this.#flush();
    });
  }

  #proposeOutgoing(): void {
    this.#encodeOutgoing();
    const batch = this.#outgoing;
    if (!batch.length) return;
    this.#outgoing = [];
    if (this.core.role === "leader") this.core.propose(batch);
    else if (this.core.lead !== undefined) {
      this.opts.send(this.core.lead, { type: "Prop", data: batch });
    }
  }

  #submitRead(r: PendingRead): void {
    r.sent = this.now;
    r.index = -1;
    if (this.core.lead !== undefined) this.core.readIndex(r.ctx);
  }

  #retry(): void {
    const { retryTicks, timeoutTicks } = this.opts;
    for (const p of this.#pending.values()) {
      if (this.now - p.start >= timeoutTicks) {
        this.#pending.delete(p.seq);
        p.reject(
          this.#hadLeader
            ? new TimeoutError("the command was not confirmed in time")
            : new OfflineError("no leader is reachable"),
        );
      } else if (this.now - p.sent >= retryTicks) this.#submit(p);
    }
    for (const r of this.#reads.values()) {
      if (this.now - r.start >= timeoutTicks) {
        this.#reads.delete(r.ctx);
        r.reject(
          this.#hadLeader
            ? new TimeoutError("the read was not confirmed in time")
            : new OfflineError("no leader is reachable"),
        );
      } else if (r.index < 0 && this.now - r.sent >= retryTicks) this.#submitRead(r);
    }
    const l = this.#leaving;
    if (l && this.now - l.start >= timeoutTicks) {
      this.#leaving = undefined;
      l.reject(new TimeoutError("the removal was not confirmed in time"));
    } else if (l && this.now - l.sent >= retryTicks) {
      l.sent = this.now;
      if (this.core.role === "leader") this.#departed.add(this.id);
      else for (const b of this.#bonds) this.opts.send(b, { type: "Leave" }); // only the leader answers
    }
  }

  #flush(): void {
    const core = this.core;
    this.#proposeOutgoing();
    if (core.restored) this.#afterRestore();
    this.#apply();
    for (const rs of core.readStates) {
      const r = this.#reads.get(rs.ctx);
      if (!r) continue;
      if (rs.index < 0) r.sent = this.now - this.opts.retryTicks + 1; // retry on the next tick
      else r.index = rs.index;
    }
    core.readStates = [];
    for (const r of this.#reads.values()) {
      if (r.index >= 0 && this.applied >= r.index) {
        this.#reads.delete(r.ctx);
        try {
          r.resolve(this.sm.query(r.query));
        } catch (e) {
          r.reject(e as Error);
        }
      }
    }
    if (core.lead !== this.#lastLead) {
      this.#lastLead = core.lead;
      if (core.lead !== undefined) {
        this.#hadLeader = true;
        for (const p of this.#pending.values()) this.#submit(p);
        for (const r of this.#reads.values()) if (r.index < 0) this.#submitRead(r);
        this.#proposeOutgoing();
      }
      this.opts.onEvent?.({ type: "leader", leader: core.lead });
    }
    const out = core.outbox;
    if (out.length) {
      core.outbox = [];
      for (const o of out) this.opts.send(o.to, o.msg);
    }
    if (core.hasUnstable) this.#persistLater();
    if (this.core.readStates.length) this.#flush();
  }

  #persistLater(): void {
    const defer = this.opts.defer;
    if (!defer) {
      this.core.persist();
      this.#flush();
      return;
    }
    if (this.#persistScheduled) return;
    this.#persistScheduled = true;
    defer(() => {
      this.#persistScheduled = false;
      if (this.closed) return; // a crash: the unwritten entries are lost, as on a real crash
      this.core.persist();
      this.#flush();
    });
  }

  #afterRestore(): void {
    const snap = this.core.restored;
    this.core.restored = undefined;
    if (!snap) return;
    this.#restoreFrom(snap);
  }

  #restoreFrom(snap: Snapshot): void {
    const { sm, sessions, commands } = decode<
      { sm: unknown; sessions: [string, number, number, [number, unknown][]][]; commands?: number }
    >(
      snap.data,
    );
    this.sm.restore(sm);
    this.#commands = commands ?? 0;
    this.#sessions.clear();
    for (const [c, acked, last, results] of sessions) {
      this.#sessions.set(c, { acked, last, results: new Map(results) });
    }
    this.applied = snap.index;
    this.#lastSnapshot = snap.index;
    this.opts.onEvent?.({ type: "applied", index: this.applied });
  }

  #apply(): void {
    const commit = this.core.commit;
    if (commit <= this.applied) return;
    const entries = this.core.entries(this.applied + 1, commit);
    for (const e of entries) this.#applyEntry(e);
    this.applied = commit;
    this.opts.onEvent?.({ type: "applied", index: commit });
    if (this.applied - this.#lastSnapshot >= this.opts.snapshotEvery) this.#snapshot();
  }

  #snapshot(): void {
    const sessions = [...this.#sessions].map(([c, s]) => [c, s.acked, s.last, [...s.results]]);
    this.core.compact(
      this.applied,
      encode({ sm: this.sm.snapshot(), sessions, commands: this.#commands }),
    );
    this.#lastSnapshot = this.applied;
  }

  #applyEntry(e: Entry): void {
    if (e.type !== EntryType.Command || !e.data) return;
    let client: string, seq: number, ack: number, cmds: unknown[];
    try {
      [client, seq, ack, cmds] = decode<[string, number, number, unknown[]]>(e.data);
    } catch {
      return; // not ours to apply: deterministic skip on every member
    }
    let s = this.#sessions.get(client);
    if (!s) {
      s = { acked: 0, last: e.index, results: new Map() };
      this.#sessions.set(client, s);
      if (this.#sessions.size > this.opts.maxSessions) this.#evictSession();
    }
    s.last = e.index;
    if (ack > s.acked) {
      s.acked = ack;
      for (const k of s.results.keys()) if (k <= ack) s.results.delete(k);
    }
    const results: unknown[] = [];
    this.#commands += cmds.length;
    for (let i = 0; i < cmds.length; i++) {
      const n = seq + i;
      if (n <= s.acked || s.results.has(n)) {
        results.push(s.results.get(n));
        continue;
      }
      let r: unknown;
      try {
        r = this.sm.apply(cmds[i], { index: e.index, term: e.term, offset: i });
      } catch (err) {
        r = { error: String((err as Error)?.message ?? err) };
      }
      s.results.set(n, r);
      results.push(r);
    }
    if (client === this.opts.clientId) {
      for (let i = 0; i < cmds.length; i++) {
        const p = this.#pending.get(seq + i);
        if (p && i + p.commands.length <= cmds.length) {
          this.#pending.delete(seq + i);
          p.resolve({ index: e.index, results: results.slice(i, i + p.commands.length) });
        }
      }
    }
  }

  #evictSession(): void {
    let victim: string | undefined;
    let low = Infinity;
    for (const [c, s] of this.#sessions) {
      if (s.last < low || (s.last === low && victim !== undefined && c < victim)) {
        low = s.last;
        victim = c;
      }
    }
    if (victim !== undefined) this.#sessions.delete(victim);
  }

  #sendStatus(to: NodeId): void {
    this.opts.send(to, {
      type: "Status",
      cluster: this.core.cluster,
      commit: this.core.commit,
      learner: !!this.opts.learner,
      lead: this.core.lead,
      best: this.#best(this.core.cluster),
      never: this.#neverLeads || undefined,
    });
  }

  /** Most applied commands known of in an incarnation (ours: including our own count). */
  #best(cluster: string | undefined): number {
    if (cluster === undefined) return 0;
    let best = cluster === this.core.cluster ? this.#commands : 0;
    for (const st of this.#status.values()) {
      if (st.cluster === cluster && st.best > best) best = st.best;
    }
    return best;
  }

  #broadcastStatus(): void {
    for (const p of this.#bonds) this.#sendStatus(p);
  }

  #inConfig(id: NodeId, c: Config | undefined): boolean {
    return !!c && (c.voters.includes(id) || c.learners.includes(id));
  }

  /** Formation: an empty member bootstraps or waits to be added. */
  #form(): void {
    // A member that has voted (term > 0) knows a group exists and waits to be
    // added, unless no leader showed up for a long time (the one it voted for
    // may be gone for good; should it return, the incarnations resolve).
    if (this.core.config || this.core.lastIndex > 0 || this.opts.learner) return;
    if (
      this.core.term > 0 &&
      this.now - this.#lastLeaderSeen <
        4 * this.opts.formationTicks + 4 * (this.opts.raft?.electionTicks ?? 10)
    ) {
      return;
    }
    const known: NodeId[] = [];
    for (const p of this.#bonds) {
      const st = this.#status.get(p);
      if (!st) return; // wait until every bonded peer told us its state
      if (st.cluster !== undefined && !this.#rejected.has(st.cluster)) return; // an existing group will add us
      if (st.cluster === undefined && !st.learner) known.push(p);
    }
    const members = [this.id, ...known].sort();
    if (this.opts.bootstrapExpect !== undefined) {
      if (members.length < this.opts.bootstrapExpect) return;
    } else if (this.now - this.#formationStart < this.opts.formationTicks) return;
    // The lowest member that may lead writes the first configuration (a member
    // that never leads could not replicate it).
    const canLead = (id: NodeId) =>
      id === this.id ? !this.#neverLeads : !this.#status.get(id)?.never;
    const writer = members.find(canLead) ?? members[0];
    if (writer !== this.id) return;
    const cluster = Array.from(
      { length: 4 },
      () => Math.floor(this.opts.random() * 0x100000000).toString(16).padStart(8, "0"),
    ).join("");
    this.core.bootstrap({ cluster, voters: members, learners: [] });
    this.core.campaignNow();
  }

  /** Leader: add bonded members, promote caught-up learners, remove departed or absent ones. */
  #reconcile(): void {
    const core = this.core;
    if (core.role !== "leader") {
      this.#absentSince.clear();
      return;
    }
    const cfg = core.config!;
    const members = [...cfg.voters, ...cfg.learners];
    for (const m of members) {
      if (m === this.id || this.#bonds.has(m)) this.#absentSince.delete(m);
      else if (!this.#absentSince.has(m)) this.#absentSince.set(m, this.now);
    }
    if (!core.canChangeConfig()) return;
    const without = (id: NodeId): Config => ({
      cluster: cfg.cluster,
      voters: cfg.voters.filter((v) => v !== id),
      learners: cfg.learners.filter((v) => v !== id),
    });
    // Departed members stay out until their bond drops (then they may come back as new members).
    for (const d of this.#departed) {
      if (!this.#inConfig(d, cfg) || (d === this.id && cfg.voters.length === 1)) continue;
      if (core.proposeConfig(without(d)) !== undefined) return;
    }
    const match = core.matchIndexes();
    for (const l of cfg.learners) {
      const st = this.#status.get(l);
      if (st && !st.learner && this.#bonds.has(l) && (match.get(l) ?? 0) >= core.commit) {
        if (core.proposeConfig({ ...without(l), voters: [...cfg.voters, l] }) !== undefined) return;
      }
    }
    for (const p of [...this.#bonds].sort()) {
      const st = this.#status.get(p);
      if (!st || this.#inConfig(p, cfg) || this.#departed.has(p)) continue;
      if (st.cluster !== undefined && st.cluster !== cfg.cluster) continue;
      if (core.proposeConfig({ ...cfg, learners: [...cfg.learners, p] }) !== undefined) return;
    }
    for (const [m, since] of this.#absentSince) {
      if (this.now - since >= this.opts.graceTicks && this.#inConfig(m, cfg)) {
        if (core.proposeConfig(without(m)) !== undefined) return;
      }
    }
  }

  // ------------------------------------------------------------ parallel catch-up

  /** A follower far behind the leader fetches the gap from several peers at once. */
  #maybeCatchUp(
    from: NodeId,
    prevIndex: number,
    prevTerm: number,
    cluster: string | undefined,
  ): void {
    const gap = this.opts.catchUpGap ?? 0;
    const core = this.core;
    if (!gap || this.#catchUp || core.role !== "follower" || !core.config) return;
    if (cluster !== core.config.cluster || prevIndex - core.lastIndex < gap) return;
    if (core.termAt(prevIndex) !== undefined) return;
    this.#catchUp = {
      cursor: core.commit + 1,
      at: prevIndex,
      atTerm: prevTerm,
      chunks: new Map(),
      inflight: new Map(),
      refused: new Set([from]), // the leader replicates anyway; ask the others
      started: this.now,
      term: core.term,
      leader: from,
    };
    this.#driveCatchUp();
  }

  #driveCatchUp(): void {
    const c = this.#catchUp;
    if (!c) return;
    const core = this.core;
    if (
      core.role !== "follower" || core.term !== c.term || core.lead !== c.leader ||
      core.lastIndex >= c.at ||
      this.now - c.started > this.opts.timeoutTicks
    ) {
      this.#catchUp = undefined;
      return;
    }
    if (c.cursor <= core.commit) c.cursor = core.commit + 1;
    for (const [peer, f] of c.inflight) {
      if (this.now - f.sent >= this.opts.retryTicks || !this.#bonds.has(peer)) {
        c.inflight.delete(peer);
        c.refused.add(peer);
      }
    }
    const batch = this.opts.fetchBatch ?? 256;
    const busy = (i: number) =>
      c.chunks.has(i) || [...c.inflight.values()].some((f) => f.from <= i && i <= f.to);
    const peers = [...this.#bonds].filter((p) =>
      !c.refused.has(p) && !c.inflight.has(p) && this.#status.get(p)?.cluster === core.cluster
    ).sort();
    let next = c.cursor;
    for (const p of peers) {
      while (next <= c.at && busy(next)) next += c.chunks.get(next)?.length || 1;
      if (next > c.at) break;
      const to = Math.min(c.at, next + batch - 1);
      c.inflight.set(p, { from: next, to, sent: this.now });
      this.opts.send(p, {
        type: "Fetch",
        from: next,
        to,
        at: c.at,
        atTerm: c.atTerm,
        cluster: core.cluster,
      });
      next = to + 1;
    }
    if (!c.inflight.size && !peers.length && !c.chunks.size) this.#catchUp = undefined; // nobody can help
  }

  /** Serves a range only if our log holds the leader's point: then it equals the leader's log up to there. */
  #serveFetch(from: NodeId, m: Extract<ReplicaMessage, { type: "Fetch" }>): void {
    const core = this.core;
    let entries: Entry[] = [];
    if (
      m.cluster === core.cluster && core.termAt(m.at) === m.atTerm && m.from >= core.firstIndex &&
      m.from <= m.to && m.to <= m.at
    ) {
      entries = core.entries(
        m.from,
        Math.min(m.to, m.from + (this.opts.fetchBatch ?? 256) * 4 - 1),
      );
      this.served += entries.length;
    }
    this.opts.send(from, { type: "Fetched", from: m.from, entries, cluster: core.cluster });
  }

  #onFetched(from: NodeId, m: Extract<ReplicaMessage, { type: "Fetched" }>): void {
    const c = this.#catchUp;
    const f = c?.inflight.get(from);
    if (!c || !f || f.from !== m.from || m.cluster !== this.core.cluster) return;
    if (this.core.term !== c.term || this.core.lead !== c.leader) {
      this.#catchUp = undefined; // entries of an older leader must not replace newer ones
      return;
    }
    c.inflight.delete(from);
    if (!m.entries.length) {
      c.refused.add(from);
    } else {
      c.chunks.set(m.from, m.entries);
    }
    // Append every chunk that continues our log.
    for (;;) {
      const start = [...c.chunks.keys()].find((k) => k <= this.core.lastIndex + 1 && k <= c.cursor);
      if (start === undefined) break;
      const chunk = c.chunks.get(start)!;
      c.chunks.delete(start);
      this.core.appendVerified(chunk.filter((e) => e.index >= c.cursor));
      c.cursor = Math.max(c.cursor, start + chunk.length);
    }
    this.#driveCatchUp();
  }

  /**
   * Two incarnations met. The one that applied more commands (the most any
   * of its members reports) wins, ties going to the lower cluster id; a
   * member of the losing one erases its state and rejoins as a new member,
   * to be added by the winner's leader.
   */
  #checkIncarnation(from: NodeId, theirs: string | undefined): void {
    const mine = this.core.cluster;
    if (mine === undefined || theirs === undefined || theirs === mine) return;
    if (this.#rejected.has(theirs)) return;
    // Decide only once every bonded peer told us its state (their statuses repeat).
    for (const p of this.#bonds) if (!this.#status.has(p)) return;
    const myBest = this.#best(mine);
    const theirBest = this.#best(theirs);
    const iLose = theirBest > myBest || (theirBest === myBest && theirs < mine);
    if (!iLose) {
      this.#sendStatus(from);
      return;
    }
    const discarded = this.core.lastIndex;
    const committed = this.core.commit;
    this.#rejected.add(mine);
    this.opts.storage.reset();
    this.sm.restore(decode(this.#initial));
    this.#sessions.clear();
    this.applied = 0;
    this.#commands = 0;
    this.#lastSnapshot = 0;
    const outbox = this.core.outbox;
    this.core = new RaftCore(this.id, this.opts.storage, this.opts.random, this.opts.raft);
    this.core.outbox = outbox;
    this.#formationStart = this.now;
    this.opts.onEvent?.({ type: "reset", from: mine, to: theirs, discarded, committed });
  }
}
