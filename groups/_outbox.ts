// Group commit on the sending side. With a storage that syncs in groups
// (`Storage.groupCommit`), writes return before they are durable: every
// message waits until the writes made before it are flushed, and one flush
// at a time covers everything written while the previous one ran (one
// fdatasync for all entries that arrived together, off the event loop). A
// leader whose earlier writes are durable sends at once, as etcd does: its
// messages reveal nothing unwritten but its own new entries, which it counts
// toward commit only once a flush reported them stable.
import type { NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";
import type { ReplicaMessage } from "./_replica_types.ts";
import type { GroupCommit } from "./storage.ts";

/** What the outbox needs from its replica. */
export interface OutboxHost {
  /** The storage's group flush (undefined: every write is durable when it returns). */
  readonly groupCommit: GroupCommit | undefined;
  core(): RaftCore;
  closed(): boolean;
  /** Hands a message to the transport. */
  send(to: NodeId, msg: ReplicaMessage): void;
  /** A flush completed: the core may have more to do. */
  flushed(): void;
  /** A flush failed: the disk can no longer be trusted. */
  failed(error: unknown): void;
}

/** See the file comment. */
export class Outbox {
  readonly #host: OutboxHost;
  #held: { to: NodeId; msg: ReplicaMessage }[] = [];
  #syncing = false;
  /** The term in which this member leads with everything it wrote before durable. */
  #durableLead = -1;

  constructor(host: OutboxHost) {
    this.#host = host;
  }

  /** Sends now, or holds the message until every write made before it is durable. */
  send(to: NodeId, msg: ReplicaMessage): void {
    const gc = this.#host.groupCommit;
    const core = this.#host.core();
    const lead = core.role === "leader" && core.term === this.#durableLead;
    if (gc && (this.#held.length || ((gc.unsynced || this.#syncing) && !lead))) {
      this.#held.push({ to, msg });
      this.sync();
    } else this.#host.send(to, msg);
  }

  /** Starts flushing if writes or messages wait for it. */
  sync(): void {
    if (this.#syncing || this.#host.closed() || !this.#pending()) return;
    this.#syncing = true;
    this.#run().catch((e) => this.#host.failed(e));
  }

  #pending(): boolean {
    const gc = this.#host.groupCommit;
    if (!gc) return false;
    const log = this.#host.core().log;
    return this.#held.length > 0 || gc.unsynced || log.mark().index > log.persistedIndex;
  }

  async #run(): Promise<void> {
    const gc = this.#host.groupCommit!;
    try {
      while (!this.#host.closed() && this.#pending()) {
        const core = this.#host.core();
        const held = this.#held;
        this.#held = [];
        const mark = core.log.mark();
        const term = core.role === "leader" ? core.term : -1;
        await gc.flush();
        if (this.#host.closed()) return; // a crash: what waited is lost, as on a real crash
        for (const o of held) this.#host.send(o.to, o.msg);
        if (core !== this.#host.core()) continue; // the member reset its state meanwhile
        if (core.role === "leader" && core.term === term) this.#durableLead = term;
        core.stable(mark);
        this.#host.flushed();
      }
    } finally {
      this.#syncing = false;
    }
  }
}
