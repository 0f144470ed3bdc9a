// The leader's side of the step core (etcd/raft's stepLeader and the send
// paths): replication with flow control, commit of current-term entries by
// quorum, heartbeats, CheckQuorum, ReadIndex and leadership transfer. One
// Leader exists per term this node leads; stepping down drops it.
import type { MessageOf, NodeId, RaftMessage, ReadState } from "./_messages.ts";
import type { Entry } from "./storage.ts";
import { Progress, ProgressTracker } from "./_progress.ts";
import { ReadOnly, type ReadRequest } from "./_read_only.ts";
import { OutgoingSnapshot } from "./_snapshot_transfer.ts";
import type { RaftCore } from "./_raft.ts";

/** Per-entry overhead counted against `maxBytesPerMsg`. */
const ENTRY_OVERHEAD = 24;

/** See the file comment. */
export class Leader {
  readonly #r: RaftCore;
  readonly progress: ProgressTracker;
  readonly #reads: ReadOnly;
  /** An entry of this term is committed (reads and configuration changes wait for it). */
  committedInTerm = false;
  /** The commit index advanced past what some follower was sent (see `lazyCommitNotice`). */
  commitNoticeDue = false;
  /** The voter leadership is being handed to. */
  transferee: NodeId | undefined;
  #transferElapsed = 0;
  #heartbeatElapsed = 0;

  constructor(core: RaftCore) {
    this.#r = core;
    this.progress = new ProgressTracker(core.id);
    this.#reads = new ReadOnly(core.id);
    this.sync();
  }

  get #active(): boolean {
    return this.#r.leader === this;
  }

  get #voters(): readonly NodeId[] {
    return this.#r.log.config?.voters ?? [];
  }

  /** Follows the latest configuration. */
  sync(): void {
    const c = this.#r.log.config;
    this.progress.sync([...(c?.voters ?? []), ...(c?.learners ?? [])], this.#r.log.lastIndex);
  }

  /** One tick: heartbeats, CheckQuorum (may step down), transfer expiry. */
  tick(): void {
    const { electionTicks, heartbeatTicks } = this.#r.opts;
    if (this.transferee !== undefined && ++this.#transferElapsed >= electionTicks) {
      this.transferee = undefined;
    }
    // The election clock keeps running on the leader: it is its lease, and
    // every election timeout it checks that a quorum was heard from.
    if (this.#r.electionElapsed >= electionTicks) {
      this.#r.electionElapsed = 0;
      if (!this.progress.quorumActive(this.#voters)) {
        this.#r.stepDown();
        return;
      }
    }
    if (++this.#heartbeatElapsed >= heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.broadcastHeartbeat(undefined);
    }
  }

  /**
   * Answers of followers: AppendEntries, heartbeats, snapshot chunks.
   * `stale`: the sender is a voter that lost its storage (it counts toward
   * no quorum, but still receives the log).
   */
  step(from: NodeId, m: RaftMessage, stale = false): void {
    const pr = this.progress.get(from);
    if (!pr || (m.type !== "AppR" && m.type !== "HbR" && m.type !== "SnapR")) return;
    pr.active = true;
    pr.stale = stale;
    if (m.type === "AppR") this.#onAppendResponse(from, pr, m);
    else if (m.type === "HbR") this.#onHeartbeatResponse(from, pr, m);
    else {
      const out = pr.snapshot;
      if (pr.state !== "snapshot" || !out || m.index !== out.index) return;
      out.ack(m.offset, this.#r.ticks);
      this.#sendChunks(from, out);
    }
  }

  #onAppendResponse(from: NodeId, pr: Progress, m: MessageOf<"AppR">): void {
    const log = this.#r.log;
    if (m.reject) {
      if (pr.state === "replicate") {
        if (m.index <= pr.match) return;
        pr.becomeProbe(pr.match + 1);
      } else {
        if (pr.next - 1 !== m.index) return;
        let probe = m.hint;
        while (probe > log.snapIndex && (log.termAt(probe) ?? 0) > m.hintTerm) probe--;
        pr.becomeProbe(Math.max(Math.min(m.index, probe + 1), pr.match + 1));
      }
      this.sendAppend(from);
      return;
    }
    const wasPaused = pr.paused;
    if (pr.update(m.index)) {
      if (this.maybeCommit()) this.commitAdvanced();
      else if (wasPaused || pr.next <= log.lastIndex) this.sendAppend(from);
      if (from === this.transferee && pr.match === log.lastIndex) {
        this.#r.send(from, { type: "TimeoutNow", term: this.#r.term });
      }
    } else if (pr.state === "snapshot" && m.index >= pr.snapshot!.index) {
      pr.becomeProbe(m.index + 1);
      this.sendAppend(from);
    }
  }

  #onHeartbeatResponse(from: NodeId, pr: Progress, m: MessageOf<"HbR">): void {
    pr.paused = false;
    if (m.last !== undefined && m.last < pr.match) {
      // The follower lost entries it had acknowledged (it restarted with
      // empty storage): probe again from what it holds now.
      pr.match = m.last;
      pr.becomeProbe(m.last + 1);
    }
    const out = pr.snapshot;
    if (
      pr.state === "snapshot" && out && this.#r.ticks - out.sentAt >= this.#r.opts.electionTicks
    ) {
      out.rewind(this.#r.ticks);
      this.#sendChunks(from, out);
    }
    if (pr.state === "replicate" && pr.inflight.count >= this.#r.opts.maxInflight) {
      pr.inflight.freeFirst(); // messages may have been lost: let one more through
    }
    if (pr.match < this.#r.log.lastIndex) this.sendAppend(from);
    if (m.ctx !== undefined && !pr.stale) {
      for (const r of this.#reads.ack(from, m.ctx, this.#voters)) this.#answer(r, r.index);
    }
  }

  /**
   * Commits the highest index a quorum of voters holds, if it is of this
   * term (entries of earlier terms commit only below one of this term).
   * The leader counts only what it has written. Returns whether it advanced.
   */
  maybeCommit(): boolean {
    const r = this.#r;
    const log = r.log;
    const voters = this.#voters;
    if (!voters.length) return false;
    const q = this.progress.quorumIndex(voters, log.persistedIndex);
    if (q <= log.committed || log.termAt(q) !== r.term) return false;
    log.commitTo(q);
    if (!this.committedInTerm) {
      this.committedInTerm = true;
      for (const req of this.#reads.takeWaiting()) this.read(req);
    }
    if (!voters.includes(r.id) && log.configIndex <= log.committed) {
      r.stepDown(); // we committed a configuration that removed us
    }
    return true;
  }

  /** Whether a configuration change could be proposed now. */
  canChangeConfig(): boolean {
    return this.#active && this.committedInTerm &&
      this.#r.log.configIndex <= this.#r.log.committed &&
      this.transferee === undefined;
  }

  /** Sends what each follower is missing. */
  broadcastAppend(): void {
    for (const [id] of this.progress.peers()) this.sendAppend(id);
  }

  /**
   * Tells followers of a new commit index. Lazily, only those with entries
   * to send get an append now: under load new entries follow within the same
   * burst and carry the index, so an empty append each (and its answer)
   * would be wasted; {@linkcode Leader.announceCommit} tells the rest.
   */
  commitAdvanced(): void {
    if (!this.#r.opts.lazyCommitNotice) return this.broadcastAppend();
    const last = this.#r.log.lastIndex;
    for (const [id, pr] of this.progress.peers()) if (pr.next <= last) this.sendAppend(id);
    this.commitNoticeDue = true;
  }

  /** Sends the commit index to every follower whose last append did not carry it. */
  announceCommit(): void {
    this.commitNoticeDue = false;
    const commit = this.#r.log.committed;
    for (const [id, pr] of this.progress.peers()) if (pr.sentCommit < commit) this.sendAppend(id);
  }

  /** Heartbeats to every follower, carrying a ReadIndex context if given. */
  broadcastHeartbeat(ctx: string | undefined): void {
    const { log, term } = this.#r;
    for (const [id, pr] of this.progress.peers()) {
      this.#r.send(id, {
        type: "Hb",
        term,
        commit: Math.min(pr.match, log.committed),
        ctx,
        lc: log.committed,
        lct: log.termAt(log.committed),
      });
    }
  }

  /** Sends `to` the entries from its next index (or the snapshot if they are compacted). */
  sendAppend(to: NodeId): void {
    const pr = this.progress.get(to);
    const r = this.#r;
    const log = r.log;
    if (!pr || to === r.id || !this.#active || pr.blocked(r.opts.maxInflight)) return;
    const prevIndex = pr.next - 1;
    const prevTerm = log.termAt(prevIndex);
    if (prevTerm === undefined || pr.next < log.firstIndex) {
      const snap = log.snapshot;
      if (!snap) return;
      const out = new OutgoingSnapshot(snap, log.snapshotCrc(), r.opts.snapshotChunkBytes, r.ticks);
      pr.becomeSnapshot(out);
      this.#sendChunks(to, out);
      return;
    }
    const entries: Entry[] = [];
    let bytes = 0;
    for (let i = pr.next; i <= log.lastIndex && entries.length < r.opts.maxEntriesPerMsg; i++) {
      const e = log.at(i);
      const size = (e.data?.byteLength ?? 0) + ENTRY_OVERHEAD;
      if (entries.length && bytes + size > r.opts.maxBytesPerMsg) break;
      entries.push(e);
      bytes += size;
    }
    if (pr.state === "probe") {
      pr.paused = true; // one message, then wait for the answer or the next heartbeat
    } else if (entries.length) {
      const last = entries[entries.length - 1].index;
      pr.next = last + 1;
      pr.inflight.add(last);
    }
    pr.sentCommit = log.committed;
    r.send(to, { type: "App", term: r.term, prevIndex, prevTerm, entries, commit: log.committed });
  }

  /**
   * `to` pulls snapshot `index` from several peers: push it nothing while it
   * makes progress (an election timeout without a pull resumes the push).
   */
  holdSnapshot(to: NodeId, index: number): void {
    const pr = this.progress.get(to);
    if (pr?.state === "snapshot" && pr.snapshot?.index === index) pr.snapshot.hold(this.#r.ticks);
  }

  #sendChunks(to: NodeId, out: OutgoingSnapshot): void {
    for (const m of out.chunks(this.#r.term)) this.#r.send(to, m);
  }

  /** A ReadIndex request (`from` undefined: made on this node). */
  read(req: ReadRequest): void {
    if (!this.committedInTerm) {
      this.#reads.wait(req);
      return;
    }
    const commit = this.#r.log.committed;
    if (this.#voters.length <= 1) {
      this.#answer(req, commit);
      return;
    }
    this.#reads.add(req, commit);
    this.broadcastHeartbeat(req.ctx);
  }

  #answer(req: ReadRequest, index: number): void {
    const state: ReadState = { ctx: req.ctx, index };
    this.#r.answerRead(state, req.from);
  }

  /** Requests waiting for this term's first commit; they are refused when leadership ends. */
  end(): ReadRequest[] {
    return this.#reads.reset();
  }

  /** Hands leadership to `to` (default: the most up-to-date voter). */
  transfer(to: NodeId | undefined): void {
    const r = this.#r;
    const target = to ?? this.progress.mostUpToDate(this.#voters);
    if (target === undefined || target === r.id || !this.#voters.includes(target)) return;
    this.transferee = target;
    this.#transferElapsed = 0;
    if (this.progress.get(target)!.match === r.log.lastIndex) {
      r.send(target, { type: "TimeoutNow", term: r.term });
    } else this.sendAppend(target);
  }
}
