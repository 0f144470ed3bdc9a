// Chunked snapshot transfer: the leader first sends the snapshot's metadata
// alone (an empty chunk at offset 0), then, once the follower answered, its
// data in chunks of at most `chunkBytes` with a window of unacknowledged
// chunks; the follower reassembles them in order, checks the CRC of the whole
// and only then installs it. Lost chunks are resent from the last
// acknowledged one. The metadata first lets a follower pull the data from
// several peers instead (`_snapshot_pull.ts`): the leader then holds its
// push until the follower stalls.
import type { MessageOf, RaftMessage } from "./_messages.ts";
import type { Snapshot } from "./storage.ts";
import { crc32 } from "./_crc32.ts";

/** Unacknowledged snapshot chunks per follower. */
export const SNAPSHOT_WINDOW = 4;

/** The sending side, one per follower in state `snapshot`. */
export class OutgoingSnapshot {
  readonly snapshot: Snapshot;
  readonly #crc: number;
  readonly #chunkBytes: number;
  /** Chunks acknowledged and the next chunk to send. */
  #acked = 0;
  #next = 0;
  /** The metadata went out. */
  #announced = false;
  /** The follower answered the metadata: the data may follow. */
  #opened = false;
  /** The follower pulls the data itself: nothing is pushed until it stalls. */
  #held = false;
  /** Tick of the last chunk sent or acknowledged. */
  sentAt: number;

  constructor(snapshot: Snapshot, crc: number, chunkBytes: number, now: number) {
    this.snapshot = snapshot;
    this.#crc = crc;
    this.#chunkBytes = chunkBytes;
    this.sentAt = now;
  }

  /** Index of the snapshot. */
  get index(): number {
    return this.snapshot.index;
  }

  /** The chunks the window allows now (the metadata alone until the follower answered it). */
  chunks(term: number): RaftMessage[] {
    const s = this.snapshot;
    const size = this.#chunkBytes;
    const total = s.data.byteLength;
    const count = Math.max(1, Math.ceil(total / size));
    const out: RaftMessage[] = [];
    if (this.#held) return out;
    if (!this.#opened) {
      if (this.#announced) return out;
      this.#announced = true;
      const meta = { ...s, data: s.data.subarray(0, 0) };
      return [{ type: "Snap", term, snapshot: meta, offset: 0, total, crc: this.#crc }];
    }
    while (this.#next < count && this.#next - this.#acked < SNAPSHOT_WINDOW) {
      const offset = this.#next * size;
      out.push({
        type: "Snap",
        term,
        snapshot: { ...s, data: s.data.subarray(offset, Math.min(total, offset + size)) },
        offset,
        total,
        crc: this.#crc,
      });
      this.#next++;
    }
    return out;
  }

  /** The follower holds the first `offset` bytes. */
  ack(offset: number, now: number): void {
    this.sentAt = now;
    this.#opened = true;
    this.#acked = Math.floor(offset / this.#chunkBytes);
    this.#next = Math.max(this.#next, this.#acked);
  }

  /** Chunks were probably lost: send again from the last acknowledged one. */
  rewind(now: number): void {
    this.#next = this.#acked;
    this.#announced = false;
    this.#held = false;
    this.sentAt = now;
  }

  /** The follower pulls the data from several peers: push nothing while it makes progress. */
  hold(now: number): void {
    this.#held = true;
    this.sentAt = now;
  }
}

interface Buffer {
  index: number;
  term: number;
  total: number;
  crc: number;
  data: Uint8Array;
  received: number;
}

/** What a follower does with a chunk. */
export type ChunkOutcome =
  | { done: false; offset: number }
  | { done: true; snapshot: Snapshot; valid: boolean };

/** The receiving side: one snapshot at a time, chunks in order from offset 0. */
export class SnapshotReceiver {
  #buf: Buffer | undefined;

  /** Drops a partial snapshot (it arrived whole by another way). */
  clear(): void {
    this.#buf = undefined;
  }

  /**
   * Takes a chunk. Until the data is complete the answer is the offset to
   * acknowledge (the bytes held; 0 restarts the transfer); then the whole
   * snapshot and whether its CRC matched.
   */
  receive(m: MessageOf<"Snap">): ChunkOutcome {
    const s = m.snapshot;
    const same = (b: Buffer | undefined): b is Buffer =>
      b !== undefined && b.index === s.index && b.term === s.term && b.total === m.total &&
      b.crc === m.crc;
    if (m.offset === 0 && !same(this.#buf)) {
      this.#buf = {
        index: s.index,
        term: s.term,
        total: m.total,
        crc: m.crc,
        data: new Uint8Array(m.total),
        received: 0,
      };
    }
    const b = this.#buf;
    if (!same(b)) return { done: false, offset: 0 };
    if (m.offset === b.received && m.offset + s.data.byteLength <= b.total) {
      b.data.set(s.data, m.offset);
      b.received += s.data.byteLength;
    }
    if (b.received < b.total) return { done: false, offset: b.received };
    this.#buf = undefined;
    return { done: true, snapshot: { ...s, data: b.data }, valid: crc32(b.data) === b.crc };
  }
}
