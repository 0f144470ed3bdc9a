/**
 * The {@linkcode Storage} interface for Raft's durable state (term, vote,
 * log, snapshot) and the in-memory implementation.
 *
 * Every method is synchronous and durable when it returns: the Raft core
 * calls it before sending any message that depends on the written state, so
 * a node that answers a vote or acknowledges entries has them on disk. A
 * store may instead sync in groups ({@linkcode Storage.groupCommit}): its
 * writes return at once and become durable with the next flush, and the
 * group holds every message that depends on them until then.
 *
 * @module
 */

/** Kinds of log entries. */
export const EntryType = {
  /** The no-op a new leader appends to commit entries of earlier terms. */
  Noop: 0,
  /** An application command (opaque bytes). */
  Command: 1,
  /** A membership configuration; takes effect when appended. */
  Config: 2,
} as const;

/** A membership configuration of a group. */
export interface Config {
  /** Cluster incarnation: random id chosen when the group first formed. */
  cluster: string;
  /** Members that vote and count in quorums. */
  voters: string[];
  /** Members that receive the log but do not vote. */
  learners: string[];
  /**
   * The storage epoch ({@linkcode HardState.epoch}) each member had when it
   * was added. A member whose storage was lost has a new epoch: it is no
   * longer the voter listed here (it neither votes nor counts toward commit)
   * until the leader re-adds it as a learner with its new epoch and promotes
   * it once it caught up.
   */
  epochs?: Record<string, string>;
}

/** One log entry. */
export interface Entry {
  /** Position in the log, from 1. */
  index: number;
  /** Term of the leader that created it. */
  term: number;
  /** One of {@linkcode EntryType}. */
  type: 0 | 1 | 2;
  /** Command bytes (type Command). */
  data?: Uint8Array;
  /** Configuration (type Config). */
  config?: Config;
}

/** Term and vote: written before any message that reveals them. */
export interface HardState {
  /** Current term. */
  term: number;
  /** Candidate voted for in `term`, if any. */
  vote?: string;
  /**
   * Random id chosen the first time a member starts on this storage: a
   * member that lost its storage comes back with a new one.
   */
  epoch?: string;
  /** Highest index known committed when the hard state was last written. */
  commit?: number;
}

/** A snapshot of the applied state at `index`. */
export interface Snapshot {
  /** Last index included. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Configuration in effect at `index`. */
  config: Config;
  /** Serialized state machine and client sessions. */
  data: Uint8Array;
}

/** Everything a store holds, as loaded at start. */
export interface PersistentState {
  /** Term and vote. */
  hard: HardState;
  /** The latest snapshot, if any. */
  snapshot?: Snapshot;
  /** Log entries after the snapshot, contiguous. */
  entries: Entry[];
}

/**
 * Durable Raft state. Implementations: {@linkcode MemoryStorage} and
 * `FileStorage` (append-only segments with CRCs and fsync).
 */
export interface Storage {
  /** Loads the persisted state (called once when a node starts). */
  load(): PersistentState;
  /** Persists term and vote. */
  setHardState(hard: HardState): void;
  /** Persists entries; any stored entries at or after `entries[0].index` are replaced. */
  append(entries: Entry[]): void;
  /**
   * Persists a snapshot. With `discardLog` the whole log is dropped (snapshot
   * installed from the leader); otherwise only entries up to its index.
   */
  saveSnapshot(snapshot: Snapshot, discardLog: boolean): void;
  /** Erases everything (the member rejoins as a new, empty member). */
  reset(): void;
  /** Releases resources. */
  close(): void;
  /**
   * Group commit (optional): when present, {@linkcode Storage.setHardState}
   * and {@linkcode Storage.append} return before their writes are durable,
   * and {@linkcode GroupCommit.flush} makes them durable. Snapshots and
   * resets stay durable when their call returns.
   */
  readonly groupCommit?: GroupCommit;
}

/** The flush of a {@linkcode Storage} that syncs its writes in groups. */
export interface GroupCommit {
  /** Whether writes wait for a flush. */
  readonly unsynced: boolean;
  /** Makes every write made before the call durable (one sync for all, off the event loop). */
  flush(): Promise<void>;
}

/**
 * A {@linkcode Storage} in memory. It survives the Raft node (not the
 * process), which lets tests restart a node on the same state.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@mosaik/groups";
 * const s = new MemoryStorage();
 * s.setHardState({ term: 3, vote: "a" });
 * console.assert(s.load().hard.term === 3);
 * ```
 */
export class MemoryStorage implements Storage {
  #hard: HardState = { term: 0 };
  #snapshot: Snapshot | undefined;
  #entries: Entry[] = [];

  /** Loads the state. */
  load(): PersistentState {
    return { hard: { ...this.#hard }, snapshot: this.#snapshot, entries: [...this.#entries] };
  }

  /** Stores term and vote. */
  setHardState(hard: HardState): void {
    this.#hard = { ...hard };
  }

  /** Stores entries, replacing any suffix they overlap. */
  append(entries: Entry[]): void {
    if (!entries.length) return;
    this.#entries = spliceEntries(this.#entries, entries, this.#snapshot?.index ?? 0);
  }

  /** Stores a snapshot. */
  saveSnapshot(snapshot: Snapshot, discardLog: boolean): void {
    this.#snapshot = snapshot;
    this.#entries = discardLog ? [] : this.#entries.filter((e) => e.index > snapshot.index);
  }

  /** Erases everything. */
  reset(): void {
    this.#hard = { term: 0 };
    this.#snapshot = undefined;
    this.#entries = [];
  }

  /** Nothing to release. */
  close(): void {}
}

/** Replaces the suffix of `log` from `entries[0].index` with `entries`. */
export function spliceEntries(log: Entry[], entries: Entry[], snapIndex: number): Entry[] {
  const first = entries[0].index;
  const keep = Math.max(0, first - snapIndex - 1);
  if (keep > log.length) throw new RangeError(`gap before entry ${first}`);
  const out = log.length === keep ? log : log.slice(0, keep);
  for (const e of entries) out.push(e);
  return out;
}
