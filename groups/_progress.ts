// What a leader knows of each member's log (etcd/raft's tracker): the match
// and next index, the flow-control state (probe, replicate, snapshot), the
// window of AppendEntries messages in flight and whether the member was heard
// from since the last CheckQuorum round.
import type { NodeId } from "./_messages.ts";
import type { OutgoingSnapshot } from "./_snapshot_transfer.ts";

/**
 * How the leader sends to a member: `probe` one message at a time until the
 * logs match, `replicate` pipelined within the inflight window, `snapshot`
 * while a snapshot is being transferred.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** AppendEntries messages in flight to one member, by the last index each carried. */
export class Inflights {
  #last: number[] = [];

  /** Messages in flight. */
  get count(): number {
    return this.#last.length;
  }

  /** Records a message carrying entries up to `last`. */
  add(last: number): void {
    this.#last.push(last);
  }

  /** Frees the messages acknowledged by an answer up to `index`. */
  freeTo(index: number): void {
    this.#last = this.#last.filter((i) => i > index);
  }

  /** Frees the oldest message (it may have been lost). */
  freeFirst(): void {
    this.#last.shift();
  }

  /** Forgets every message. */
  reset(): void {
    this.#last = [];
  }
}

/** The leader's view of one member. */
export class Progress {
  /** Highest index known to match the leader's log. */
  match: number;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** A probe is out: send nothing more until it is answered or a heartbeat is answered. */
  paused = false;
  readonly inflight: Inflights = new Inflights();
  /** Heard from since the last CheckQuorum round. */
  active = true;
  /**
   * A voter that answered with another storage epoch (it lost its storage):
   * it counts toward no quorum until it is re-added.
   */
  stale = false;
  /** The commit index the last append sent to it carried. */
  sentCommit = 0;
  /** The snapshot being sent while in state `snapshot`. */
  snapshot: OutgoingSnapshot | undefined;

  constructor(match: number, next: number) {
    this.match = match;
    this.next = next;
  }

  /** Probes from `next`: one message at a time, nothing in flight. */
  becomeProbe(next: number): void {
    this.state = "probe";
    this.next = next;
    this.snapshot = undefined;
    this.inflight.reset();
    this.paused = false;
  }

  /** Starts sending `snapshot`; entries resume once the member holds its index. */
  becomeSnapshot(snapshot: OutgoingSnapshot): void {
    this.state = "snapshot";
    this.snapshot = snapshot;
  }

  /**
   * Records an acknowledgement up to `index`; returns whether it moved the
   * match index (an old or duplicated answer does not).
   */
  update(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    if (this.state === "probe") this.state = "replicate";
    else if (this.state === "snapshot" && this.match >= this.snapshot!.index) {
      this.state = "replicate";
      this.snapshot = undefined;
    }
    this.inflight.freeTo(index);
    this.paused = false;
    return true;
  }

  /** Whether nothing may be sent now. */
  blocked(maxInflight: number): boolean {
    return this.state === "snapshot" || this.paused ||
      (this.state === "replicate" && this.inflight.count >= maxInflight);
  }
}

/** The progress of every member of the configuration, the leader included. */
export class ProgressTracker {
  readonly #self: NodeId;
  readonly #map = new Map<NodeId, Progress>();

  constructor(self: NodeId) {
    this.#self = self;
  }

  /** The progress of `id`, if it is a member. */
  get(id: NodeId): Progress | undefined {
    return this.#map.get(id);
  }

  /** Every member but the leader. */
  *peers(): IterableIterator<[NodeId, Progress]> {
    for (const e of this.#map) if (e[0] !== this.#self) yield e;
  }

  /** Follows a configuration change: new members start probing at `lastIndex + 1`. */
  sync(members: Iterable<NodeId>, lastIndex: number): void {
    const wanted = new Set(members);
    wanted.add(this.#self);
    for (const id of this.#map.keys()) if (!wanted.has(id)) this.#map.delete(id);
    for (const id of wanted) {
      if (!this.#map.has(id)) this.#map.set(id, new Progress(0, lastIndex + 1));
    }
    const self = this.#map.get(this.#self)!;
    self.state = "replicate";
    self.match = lastIndex;
    self.next = lastIndex + 1;
  }

  /**
   * The highest index a quorum of `voters` holds, counting the leader with
   * `selfIndex` (what it has written, not what it has sent).
   */
  quorumIndex(voters: readonly NodeId[], selfIndex: number): number {
    const matches = voters.map((v) => {
      if (v === this.#self) return selfIndex;
      const pr = this.#map.get(v);
      return pr && !pr.stale ? pr.match : 0;
    }).sort((a, b) => b - a);
    return matches[quorum(voters.length) - 1] ?? 0;
  }

  /** Whether a quorum of `voters` was heard from since the last call; starts a new round. */
  quorumActive(voters: readonly NodeId[]): boolean {
    let active = 0;
    for (const v of voters) {
      const pr = this.#map.get(v);
      if (v === this.#self || (pr?.active && !pr.stale)) active++;
    }
    for (const [, pr] of this.peers()) pr.active = false;
    return active >= quorum(voters.length);
  }

  /** The voter other than the leader with the highest match index. */
  mostUpToDate(voters: readonly NodeId[]): NodeId | undefined {
    let best = -1;
    let target: NodeId | undefined;
    for (const v of voters) {
      const pr = this.#map.get(v);
      if (v !== this.#self && pr && !pr.stale && pr.match > best) {
        best = pr.match;
        target = v;
      }
    }
    return target;
  }

  /** Match index of every member. */
  matchIndexes(): Map<NodeId, number> {
    return new Map([...this.#map].map(([id, pr]) => [id, pr.match]));
  }
}

/** Votes needed among `voters` voters. */
export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
