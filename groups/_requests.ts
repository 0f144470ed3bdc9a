// Client requests of one member: commands waiting to be committed and
// applied, strong reads waiting for a ReadIndex point, retries to the current
// leader and time limits. Concurrent commands with consecutive sequence
// numbers are batched into shared log entries.
import type { ReadState } from "./_messages.ts";
import { type Batch, encodeBatch } from "./_sessions.ts";
import { GroupOfflineError, TimeoutError } from "./errors.ts";

/** Commands per log entry at most. */
const MAX_BATCH = 256;

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
  /** The confirmed read point, -1 until known. */
  index: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** What requests need from their replica; times in ticks. */
export interface RequestHost {
  readonly clientId: string;
  readonly retryTicks: number;
  readonly timeoutTicks: number;
  /** The replica's clock. */
  now(): number;
  /** Whether a leader was ever known (a timeout is then an unknown outcome, not "offline"). */
  hadLeader(): boolean;
  /** Asks for a ReadIndex point; answered through {@linkcode Requests.onReadStates}. */
  readIndex(ctx: string): void;
}

/** See the file comment. */
export class Requests {
  readonly #host: RequestHost;
  #pending = new Map<number, PendingCommand>();
  #reads = new Map<string, PendingRead>();
  #queued: PendingCommand[] = [];
  #nextSeq = 1;
  #nextRead = 1;

  constructor(host: RequestHost) {
    this.#host = host;
  }

  /** Queues commands for the next batch; resolves once they are applied here. */
  execute(commands: unknown[]): Promise<{ index: number; results: unknown[] }> {
    const seq = this.#nextSeq;
    this.#nextSeq += commands.length;
    return new Promise((resolve, reject) => {
      const p = { seq, commands, start: this.#host.now(), sent: -Infinity, resolve, reject };
      this.#pending.set(seq, p);
      this.#submit(p);
    });
  }

  /** Asks for a read point; resolves with `answer()` once this member applied it. */
  read(query: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const r: PendingRead = {
        ctx: "",
        query,
        start: this.#host.now(),
        sent: -Infinity,
        index: -1,
        resolve,
        reject,
      };
      this.#submitRead(r);
    });
  }

  #submit(p: PendingCommand): void {
    p.sent = this.#host.now();
    this.#queued.push(p);
  }

  #submitRead(r: PendingRead): void {
    r.sent = this.#host.now();
    r.index = -1;
    this.#reads.delete(r.ctx);
    r.ctx = `${this.#host.clientId}:${this.#nextRead++}`;
    this.#reads.set(r.ctx, r);
    this.#host.readIndex(r.ctx);
  }

  /**
   * The queued commands as entry data: calls with consecutive sequence
   * numbers share one entry, whose ack says every lower sequence number is
   * settled and may be forgotten by the session table.
   */
  takeBatches(): Uint8Array[] {
    if (!this.#queued.length) return [];
    const queued = [...new Set(this.#queued)].filter((p) => this.#pending.get(p.seq) === p);
    this.#queued = [];
    queued.sort((a, b) => a.seq - b.seq);
    const first = this.#pending.keys().next(); // inserted in increasing order: the lowest
    const ack = (first.done ? this.#nextSeq : first.value) - 1;
    const out: Uint8Array[] = [];
    let run: PendingCommand[] = [];
    let count = 0;
    const emit = () => {
      if (!run.length) return;
      const seq = run[0].seq;
      const b: Batch = {
        client: this.#host.clientId,
        seq,
        ack: Math.min(ack, seq - 1),
        commands: run.flatMap((p) => p.commands),
      };
      out.push(encodeBatch(b));
      run = [];
      count = 0;
    };
    for (const p of queued) {
      const prev = run[run.length - 1];
      if (
        prev && (prev.seq + prev.commands.length !== p.seq || count + p.commands.length > MAX_BATCH)
      ) {
        emit();
      }
      run.push(p);
      count += p.commands.length;
    }
    emit();
    return out;
  }

  /** A (new) leader is known: send everything unanswered to it. */
  resubmit(): void {
    for (const p of this.#pending.values()) this.#submit(p);
    for (const r of [...this.#reads.values()]) if (r.index < 0) this.#submitRead(r);
  }

  /** One tick: fails requests past their time limit, resends unanswered ones. */
  tick(): void {
    const { retryTicks, timeoutTicks } = this.#host;
    const now = this.#host.now();
    const expired = (what: string) =>
      this.#host.hadLeader()
        ? new TimeoutError(`the ${what} was not confirmed in time`)
        : new GroupOfflineError("no leader is reachable");
    for (const p of this.#pending.values()) {
      if (now - p.start >= timeoutTicks) {
        this.#pending.delete(p.seq);
        p.reject(expired("command"));
      } else if (now - p.sent >= retryTicks) this.#submit(p);
    }
    for (const r of [...this.#reads.values()]) {
      if (now - r.start >= timeoutTicks) {
        this.#reads.delete(r.ctx);
        r.reject(expired("read"));
      } else if (r.index < 0 && now - r.sent >= retryTicks) this.#submitRead(r);
    }
  }

  /** Results of a batch applied at `index`: settles our commands among them. */
  onApplied(b: Batch, index: number, results: unknown[]): void {
    if (b.client !== this.#host.clientId) return;
    for (let i = 0; i < b.commands.length; i++) {
      const p = this.#pending.get(b.seq + i);
      if (p && i + p.commands.length <= b.commands.length) {
        this.#pending.delete(b.seq + i);
        p.resolve({ index, results: results.slice(i, i + p.commands.length) });
      }
    }
  }

  /** Read points confirmed (or refused: retried on the next tick). */
  onReadStates(states: ReadState[]): void {
    for (const rs of states) {
      const r = this.#reads.get(rs.ctx);
      if (!r) continue;
      if (rs.index < 0) r.sent = this.#host.now() - this.#host.retryTicks + 1;
      else r.index = rs.index;
    }
  }

  /** Answers the reads whose point this member applied. */
  answerReads(applied: number, answer: (query: unknown) => unknown): void {
    for (const r of [...this.#reads.values()]) {
      if (r.index < 0 || applied < r.index) continue;
      this.#reads.delete(r.ctx);
      try {
        r.resolve(answer(r.query));
      } catch (e) {
        r.reject(e as Error);
      }
    }
  }

  /** Fails every request with `error`. */
  close(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    for (const r of this.#reads.values()) r.reject(error);
    this.#pending.clear();
    this.#reads.clear();
    this.#queued = [];
  }
}
