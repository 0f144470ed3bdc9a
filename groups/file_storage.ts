/**
 * A durable, file-backed {@linkcode Storage}: append-only segment files of
 * CRC-checked records. By default it commits in groups: hard states and
 * entries are written at once and made durable by one `fdatasync` per
 * flush ({@linkcode FileStorage.groupCommit}, run off the event loop) for
 * everything written before it; the group holds every message that depends
 * on them until then. With `groupCommit: false` each write is followed by its own
 * `fdatasync`.
 *
 * Record layout: `u32 length (BE) | u32 CRC-32 of payload | payload`, the
 * payload being MessagePack of a hard state, a batch of entries or a
 * snapshot. Recovery replays the segments in order and stops at the first
 * torn or corrupt record (a crash mid-write); that tail is truncated away, so
 * the store comes back with every record that was completely written.
 * Saving a snapshot starts a new segment holding a checkpoint (hard state,
 * snapshot, remaining entries) and deletes the older segments.
 *
 * @module
 */
import { decode, encode } from "@mosaik/transport";
import type {
  Entry,
  GroupCommit,
  HardState,
  PersistentState,
  Snapshot,
  Storage,
} from "./storage.ts";
import { spliceEntries } from "./storage.ts";
import { fastCrc32 } from "./_crc32.ts";

/** Options of {@linkcode FileStorage}. */
export interface FileStorageOptions {
  /** Start a new segment after this many bytes. Default 64 MiB. */
  segmentBytes?: number;
  /** Call fdatasync at all (default true; false only for tests). */
  sync?: boolean;
  /**
   * Sync hard states and entries in groups through
   * {@linkcode FileStorage.groupCommit} (default true); false syncs each
   * write before it returns.
   */
  groupCommit?: boolean;
}

type Record =
  | { t: "h"; term: number; vote?: string; epoch?: string; commit?: number }
  | { t: "e"; e: Entry[] }
  | { t: "s"; s: Snapshot; d: boolean };

const SEGMENT_RE = /^seg-(\d{8})\.log$/;

/**
 * Raft state in a directory of append-only segments.
 *
 * @example
 * ```ts
 * import { FileStorage } from "@mosaik/groups";
 * const dir = await Deno.makeTempDir();
 * const s = FileStorage.open(dir);
 * s.setHardState({ term: 2, vote: "x" });
 * s.close();
 * console.assert(FileStorage.open(dir).load().hard.term === 2);
 * ```
 */
export class FileStorage implements Storage, AsyncDisposable {
  /** The directory holding the segments. */
  readonly dir: string;
  #file: Deno.FsFile | undefined;
  #segment = 0;
  #size = 0;
  #segmentBytes: number;
  #sync: boolean;
  #unsynced = false;
  readonly #crc32 = fastCrc32();
  /** The group flush (undefined when each write syncs, or nothing syncs). */
  readonly groupCommit: GroupCommit | undefined;
  #hard: HardState = { term: 0 };
  #snapshot: Snapshot | undefined;
  #entries: Entry[] = [];
  /** Bytes cut from a torn tail during recovery (0 after a clean shutdown). */
  readonly recoveredTruncation: number;

  private constructor(dir: string, options: FileStorageOptions) {
    this.dir = dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#sync = options.sync ?? true;
    if (this.#sync && options.groupCommit !== false) {
      const unsynced = () => this.#unsynced;
      this.groupCommit = {
        get unsynced() {
          return unsynced();
        },
        flush: () => this.#flush(),
      };
    }
    Deno.mkdirSync(dir, { recursive: true });
    this.recoveredTruncation = this.#recover();
  }

  /** Opens (or creates) the store in `dir`, recovering from a crash if needed. */
  static open(dir: string, options: FileStorageOptions = {}): FileStorage {
    return new FileStorage(dir, options);
  }

  #segments(): number[] {
    const out: number[] = [];
    for (const e of Deno.readDirSync(this.dir)) {
      const m = e.isFile ? SEGMENT_RE.exec(e.name) : null;
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  #path(n: number): string {
    return `${this.dir}/seg-${String(n).padStart(8, "0")}.log`;
  }

  #recover(): number {
    const segments = this.#segments();
    let truncated = 0;
    for (let s = 0; s < segments.length; s++) {
      const path = this.#path(segments[s]);
      const bytes = Deno.readFileSync(path);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let off = 0;
      let torn = false;
      while (off < bytes.length) {
        if (off + 8 > bytes.length) {
          torn = true;
          break;
        }
        const len = view.getUint32(off);
        const crc = view.getUint32(off + 4);
        if (off + 8 + len > bytes.length) {
          torn = true;
          break;
        }
        const payload = bytes.subarray(off + 8, off + 8 + len);
        if (this.#crc32(payload) !== crc) {
          torn = true;
          break;
        }
        let rec: Record;
        try {
          rec = decode(payload) as Record;
        } catch {
          torn = true;
          break;
        }
        this.#replay(rec);
        off += 8 + len;
      }
      if (torn) {
        truncated += bytes.length - off;
        const f = Deno.openSync(path, { write: true });
        f.truncateSync(off);
        f.syncSync();
        f.close();
        for (const later of segments.slice(s + 1)) {
          truncated += Deno.statSync(this.#path(later)).size;
          Deno.removeSync(this.#path(later));
        }
        this.#syncDir();
        segments.length = s + 1;
        break;
      }
    }
    this.#segment = segments.length ? segments[segments.length - 1] : 0;
    if (this.#segment === 0) this.#roll();
    else {
      this.#file = Deno.openSync(this.#path(this.#segment), { write: true, append: true });
      this.#size = Deno.statSync(this.#path(this.#segment)).size;
      // What a killed process wrote may still sit in the page cache only:
      // make the state we start from durable before acting on it.
      if (this.#sync) this.#file.syncDataSync();
    }
    return truncated;
  }

  #replay(rec: Record): void {
    if (rec.t === "h") {
      this.#hard = { term: rec.term };
      if (rec.vote != null) this.#hard.vote = rec.vote;
      if (rec.epoch != null) this.#hard.epoch = rec.epoch;
      if (rec.commit != null) this.#hard.commit = rec.commit;
    } else if (rec.t === "e") {
      this.#entries = spliceEntries(
        this.#entries,
        rec.e.map(normalizeEntry),
        this.#snapshot?.index ?? 0,
      );
    } else {
      this.#snapshot = rec.s;
      this.#entries = rec.d ? [] : this.#entries.filter((e) => e.index > rec.s.index);
    }
  }

  #roll(): void {
    this.#syncNow();
    this.#file?.close();
    this.#segment++;
    this.#file = Deno.openSync(this.#path(this.#segment), {
      create: true,
      write: true,
      append: true,
    });
    this.#size = 0;
    this.#syncDir();
  }

  /** Makes the creation and removal of segments durable (fsync of the directory). */
  #syncDir(): void {
    if (!this.#sync) return;
    const dir = Deno.openSync(this.dir, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }

  /** Syncs now whatever waits for a group flush. */
  #syncNow(): void {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#file?.syncDataSync();
  }

  /** Writes records; `durable`: synced before returning even when committing in groups. */
  #write(records: Record[], durable = !this.groupCommit): void {
    const parts = records.map((r) => encode(r));
    let total = 0;
    for (const p of parts) total += 8 + p.length;
    const buf = new Uint8Array(total);
    const view = new DataView(buf.buffer);
    let off = 0;
    for (const p of parts) {
      view.setUint32(off, p.length);
      view.setUint32(off + 4, this.#crc32(p));
      buf.set(p, off + 8);
      off += 8 + p.length;
    }
    let written = 0;
    while (written < buf.length) written += this.#file!.writeSync(buf.subarray(written));
    this.#size += buf.length;
    if (!this.#sync) return;
    this.#unsynced = true;
    if (durable) this.#syncNow();
  }

  /** One `fdatasync` in the background (the event loop keeps running) for every earlier write. */
  async #flush(): Promise<void> {
    if (!this.#unsynced || !this.#file) return;
    this.#unsynced = false;
    await this.#file.syncData();
  }

  /** Loads the recovered state. */
  load(): PersistentState {
    return { hard: { ...this.#hard }, snapshot: this.#snapshot, entries: [...this.#entries] };
  }

  /** Persists term and vote. */
  setHardState(hard: HardState): void {
    this.#hard = { ...hard };
    this.#write([{ t: "h", ...this.#hard }]);
  }

  /** Persists entries, replacing any overlapped suffix. */
  append(entries: Entry[]): void {
    if (!entries.length) return;
    this.#entries = spliceEntries(this.#entries, entries, this.#snapshot?.index ?? 0);
    if (this.#size >= this.#segmentBytes) this.#roll();
    this.#write([{ t: "e", e: entries }]);
  }

  /** Persists a snapshot as a checkpoint in a new segment and deletes older segments. */
  saveSnapshot(snapshot: Snapshot, discardLog: boolean): void {
    this.#snapshot = snapshot;
    this.#entries = discardLog ? [] : this.#entries.filter((e) => e.index > snapshot.index);
    const old = this.#segments();
    this.#roll();
    const records: Record[] = [
      { t: "h", ...this.#hard },
      { t: "s", s: snapshot, d: true },
    ];
    if (this.#entries.length) records.push({ t: "e", e: this.#entries });
    this.#write(records, true); // durable before the older segments go
    for (const n of old) Deno.removeSync(this.#path(n));
    this.#syncDir();
  }

  /** Erases every segment. */
  reset(): void {
    this.#file?.close();
    this.#file = undefined;
    for (const n of this.#segments()) Deno.removeSync(this.#path(n));
    this.#hard = { term: 0 };
    this.#snapshot = undefined;
    this.#entries = [];
    this.#segment = 0;
    this.#roll();
  }

  /** Syncs what waits for a flush and closes the current segment. */
  close(): void {
    this.#syncNow();
    this.#file?.close();
    this.#file = undefined;
  }

  /** Same as {@linkcode FileStorage.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

function normalizeEntry(e: Entry): Entry {
  const out: Entry = { index: e.index, term: e.term, type: e.type };
  if (e.data != null) out.data = e.data;
  if (e.config != null) out.config = e.config;
  return out;
}
