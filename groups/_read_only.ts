// Linearizable reads on the leader (etcd/raft's read_only, ReadIndex with
// heartbeat confirmation): a request records the commit index, the leader
// sends a heartbeat carrying the request's context, and once a quorum of
// voters answered that heartbeat the leader was still the leader when the
// request arrived, so reads at that index are linearizable. Requests made
// before the leader committed an entry of its own term wait for it: until
// then its commit index may be behind what an earlier leader committed.
import type { NodeId } from "./_messages.ts";
import { quorum } from "./_progress.ts";

/** A read request: its context and who asked (undefined: this node). */
export interface ReadRequest {
  ctx: string;
  from: NodeId | undefined;
}

/** A confirmed read: `index` is the commit index recorded when it arrived. */
export interface ConfirmedRead extends ReadRequest {
  index: number;
}

interface Pending extends ConfirmedRead {
  acks: Set<NodeId>;
}

/** See the file comment. */
export class ReadOnly {
  readonly #self: NodeId;
  #pending: Pending[] = [];
  #waiting: ReadRequest[] = [];

  constructor(self: NodeId) {
    this.#self = self;
  }

  /** Parks a request until the leader committed an entry of its term. */
  wait(request: ReadRequest): void {
    this.#waiting.push(request);
  }

  /** The parked requests (the leader committed in its term). */
  takeWaiting(): ReadRequest[] {
    const waiting = this.#waiting;
    this.#waiting = [];
    return waiting;
  }

  /** Records a request at commit index `index`; the leader's own ack counts. */
  add(request: ReadRequest, index: number): void {
    this.#pending.push({ ...request, index, acks: new Set([this.#self]) });
  }

  /**
   * Records `from`'s answer to the heartbeat of `ctx`. Once a quorum of
   * `voters` answered it, that request and every earlier one are confirmed.
   */
  ack(from: NodeId, ctx: string, voters: readonly NodeId[]): ConfirmedRead[] {
    const i = this.#pending.findIndex((r) => r.ctx === ctx);
    if (i < 0) return [];
    const r = this.#pending[i];
    if (voters.includes(from)) r.acks.add(from);
    let count = 0;
    for (const v of voters) if (r.acks.has(v)) count++;
    if (count < quorum(voters.length)) return [];
    return this.#pending.splice(0, i + 1);
  }

  /** Forgets every request (leadership ended); returns the parked ones to refuse. */
  reset(): ReadRequest[] {
    this.#pending = [];
    return this.takeWaiting();
  }
}
