// The Raft log (etcd/raft's raftLog): the latest snapshot, the entries after
// it, the commit index and the configuration in effect. A leader's newest
// entries may form an unstable tail that is sent before it is written; every
// other change reaches storage before the call returns. With a storage that
// syncs in groups (`Storage.groupCommit`), a write is durable only once a later
// flush completed: the driver reports it with stable(), and until then the
// leader does not count its own entries toward commit.
import type { Config, Entry, PersistentState, Snapshot, Storage } from "./storage.ts";
import { EntryType } from "./storage.ts";
import { SafetyViolation } from "./_messages.ts";
import { crc32 } from "./_crc32.ts";

/** See the file comment. */
export class RaftLog {
  readonly #storage: Storage;
  #entries: Entry[];
  #snapshot: Snapshot | undefined;
  /** CRC-32 of the snapshot's data, computed when first needed. */
  #snapCrc: number | undefined;
  /** Trailing entries not yet written to storage. */
  #unstable = 0;
  /** Whether writes become durable only with a later group flush. */
  readonly #deferred: boolean;
  /** With deferred syncs: the entries up to here are durable. */
  #synced: number;
  /** Changes whenever written entries are replaced (a stable() mark taken before is void). */
  #version = 0;
  /** Highest index known committed. */
  committed = 0;
  /** The latest configuration in the log (takes effect on append). */
  config: Config | undefined;
  /** Index of the entry (or snapshot) holding {@linkcode RaftLog.config}. */
  configIndex = 0;

  constructor(storage: Storage, state: PersistentState) {
    this.#storage = storage;
    this.#deferred = storage.groupCommit !== undefined;
    this.#snapshot = state.snapshot;
    if (state.snapshot) this.committed = state.snapshot.index;
    this.#entries = state.entries.filter((e) => e.index > this.snapIndex);
    for (let i = 0; i < this.#entries.length; i++) {
      if (this.#entries[i].index !== this.snapIndex + i + 1) {
        throw new SafetyViolation("storage returned a non-contiguous log");
      }
    }
    // The commit index written with the hard state: a restarted member never
    // treats entries it knew committed as a suffix it may replace.
    this.committed = Math.max(this.committed, Math.min(state.hard.commit ?? 0, this.lastIndex));
    this.#synced = this.lastIndex;
    this.#refreshConfig();
  }

  /** The latest snapshot, if any. */
  get snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** Index of the latest snapshot (0 without one). */
  get snapIndex(): number {
    return this.#snapshot?.index ?? 0;
  }

  /** Index of the last entry (or of the snapshot). */
  get lastIndex(): number {
    return this.snapIndex + this.#entries.length;
  }

  /** Term of the last entry. */
  get lastTerm(): number {
    const n = this.#entries.length;
    return n ? this.#entries[n - 1].term : this.#snapshot?.term ?? 0;
  }

  /** First index still in the log (after the snapshot). */
  get firstIndex(): number {
    return this.snapIndex + 1;
  }

  /** Index of the last entry that is durable (written, and with deferred syncs flushed). */
  get persistedIndex(): number {
    return this.#deferred
      ? Math.min(this.#synced, this.lastIndex)
      : this.lastIndex - this.#unstable;
  }

  /** What a flush starting now makes durable: pass it to {@linkcode RaftLog.stable} once it completed. */
  mark(): { index: number; version: number } {
    return { index: this.lastIndex - this.#unstable, version: this.#version };
  }

  /** Entries up to `mark` are durable; returns whether that is news. */
  stable(mark: { index: number; version: number }): boolean {
    if (mark.version !== this.#version || mark.index <= this.#synced) return false;
    this.#synced = mark.index;
    return true;
  }

  /** Whether entries wait to be written. */
  get hasUnstable(): boolean {
    return this.#unstable > 0;
  }

  /** Term of entry `i`, or undefined if compacted or beyond the log. */
  termAt(i: number): number | undefined {
    if (i === this.snapIndex) return this.#snapshot?.term ?? 0;
    if (i < this.snapIndex || i > this.lastIndex) return undefined;
    return this.#entries[i - this.snapIndex - 1].term;
  }

  /** Entries `lo..=hi` (must be in the log). */
  entries(lo: number, hi: number): Entry[] {
    if (lo > hi) return [];
    if (lo <= this.snapIndex) throw new RangeError(`entry ${lo} is compacted`);
    return this.#entries.slice(lo - this.snapIndex - 1, hi - this.snapIndex);
  }

  /** Entry `i` (must be in the log). */
  at(i: number): Entry {
    return this.#entries[i - this.snapIndex - 1];
  }

  /** Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * Appends entries, replacing any suffix they overlap; never below the commit
   * index. `durable` writes them now (after any unstable tail); otherwise they
   * extend the unstable tail until {@linkcode RaftLog.persist}.
   */
  append(entries: Entry[], durable: boolean): void {
    if (!entries.length) return;
    const first = entries[0].index;
    if (first <= this.committed) {
      throw new SafetyViolation(`refusing to overwrite committed entry ${first}`);
    }
    if (durable) {
      this.persist();
      this.#storage.append(entries);
    } else {
      if (first !== this.lastIndex + 1) throw new SafetyViolation("an unstable tail only grows");
      this.#unstable += entries.length;
    }
    if (first <= this.lastIndex) {
      this.#version++;
      this.#synced = Math.min(this.#synced, first - 1);
    }
    this.#entries.length = first - this.snapIndex - 1;
    for (const e of entries) this.#entries.push(e);
    if (this.configIndex >= first) this.#refreshConfig();
    else {
      for (const e of entries) {
        if (e.type === EntryType.Config) {
          this.config = e.config;
          this.configIndex = e.index;
        }
      }
    }
  }

  /** Writes the unstable tail; returns whether there was one. */
  persist(): boolean {
    if (!this.#unstable) return false;
    const entries = this.#entries.slice(this.#entries.length - this.#unstable);
    this.#unstable = 0;
    this.#storage.append(entries);
    return true;
  }

  /** Raises the commit index (never lowers it). */
  commitTo(index: number): void {
    if (index > this.committed) this.committed = index;
  }

  /** Records a snapshot of the applied state at `index` (≤ commit) and drops the log before it. */
  compact(index: number, data: Uint8Array): void {
    this.persist();
    if (index <= this.snapIndex || index > this.committed) return;
    const term = this.termAt(index)!;
    const config = this.configAt(index);
    if (!config) return;
    const snap: Snapshot = { index, term, config, data };
    this.#storage.saveSnapshot(snap, false);
    this.#entries = this.#entries.slice(index - this.snapIndex);
    this.#snapshot = snap;
    this.#snapCrc = undefined;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  install(s: Snapshot): void {
    this.#storage.saveSnapshot(s, true);
    this.#entries = [];
    this.#unstable = 0;
    this.#version++;
    this.#synced = s.index; // saving a snapshot is durable at once
    this.#snapshot = s;
    this.#snapCrc = undefined;
    this.committed = s.index;
    this.config = s.config;
    this.configIndex = s.index;
  }

  /** CRC-32 of the snapshot's data. */
  snapshotCrc(): number {
    return this.#snapCrc ??= crc32(this.#snapshot?.data ?? new Uint8Array());
  }

  /** The configuration in effect at `index` (latest config entry at or below it). */
  configAt(index: number): Config | undefined {
    for (let i = Math.min(index, this.lastIndex) - this.snapIndex - 1; i >= 0; i--) {
      const e = this.#entries[i];
      if (e.type === EntryType.Config) return e.config;
    }
    return this.#snapshot?.config;
  }

  #refreshConfig(): void {
    this.config = this.configAt(this.lastIndex);
    let i = this.#entries.length - 1;
    while (i >= 0 && this.#entries[i].type !== EntryType.Config) i--;
    this.configIndex = i >= 0 ? this.#entries[i].index : this.snapIndex;
  }
}
