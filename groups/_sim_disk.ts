// A simulated disk for the simulator: forwards to a real Storage, and when
// the simulator arms a crash it tears the next write (a random part of it
// reaches the disk) and throws SimCrash, so nothing that depends on the
// write is ever sent. Models a process killed in the middle of an fsync.
import type { Entry, HardState, PersistentState, Snapshot, Storage } from "./storage.ts";

/** Thrown by a {@linkcode SimDisk} to stop the replica that was writing. */
export class SimCrash extends Error {
  constructor() {
    super("simulated crash during a write");
  }
}

/** See the file comment. */
export class SimDisk implements Storage {
  /** Writes torn so far (for reports). */
  torn = 0;

  constructor(
    readonly inner: Storage,
    /** Whether the current write must be torn. */
    private readonly tear: () => boolean,
    private readonly random: () => number,
  ) {}

  load(): PersistentState {
    return this.inner.load();
  }

  setHardState(hard: HardState): void {
    if (this.tear()) {
      if (this.random() < 0.5) this.inner.setHardState(hard);
      this.#crash();
    }
    this.inner.setHardState(hard);
  }

  append(entries: Entry[]): void {
    if (this.tear()) {
      const kept = Math.floor(this.random() * entries.length);
      if (kept) this.inner.append(entries.slice(0, kept));
      this.#crash();
    }
    this.inner.append(entries);
  }

  saveSnapshot(snapshot: Snapshot, discardLog: boolean): void {
    if (this.tear()) {
      if (this.random() < 0.5) this.inner.saveSnapshot(snapshot, discardLog);
      this.#crash();
    }
    this.inner.saveSnapshot(snapshot, discardLog);
  }

  reset(): void {
    this.inner.reset();
  }

  close(): void {
    this.inner.close();
  }

  #crash(): never {
    this.torn++;
    throw new SimCrash();
  }
}
