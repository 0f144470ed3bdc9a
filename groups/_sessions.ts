// Exactly-once commands: every member is a client with an id and sequence
// numbers. A log entry carries a batch `[client, firstSeq, ack, commands]`;
// the replicated session table keeps each client's results above its ack, so
// a command retried after a leader change is answered from the table instead
// of being applied twice. The table is bounded: the least recently used
// session is evicted, deterministically on every member.
import { decode, encode } from "@mosaik/transport";

/** One batch of commands of one client, as stored in a log entry. */
export interface Batch {
  client: string;
  /** Sequence number of the first command. */
  seq: number;
  /** Every sequence number up to `ack` is settled: its result may be forgotten. */
  ack: number;
  commands: unknown[];
}

/** Encodes a batch into entry data. */
export function encodeBatch(b: Batch): Uint8Array {
  return encode([b.client, b.seq, b.ack, b.commands]);
}

/** Decodes entry data; undefined for data that is not a batch (skipped on every member alike). */
export function decodeBatch(data: Uint8Array): Batch | undefined {
  try {
    const [client, seq, ack, commands] = decode<[string, number, number, unknown[]]>(data);
    return { client, seq, ack, commands };
  } catch {
    return undefined;
  }
}

interface Session {
  acked: number;
  /** Index of the entry that last touched the session (for eviction). */
  last: number;
  results: Map<number, unknown>;
}

/** A session as kept in snapshots: client, acked, last, results. */
export type SessionRecord = [string, number, number, [number, unknown][]];

/** See the file comment. */
export class Sessions {
  readonly #max: number;
  #map = new Map<string, Session>();

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Applies the batch at log `index`: `run` is called for each command not
   * applied before; returns the result of every command of the batch.
   */
  apply(b: Batch, index: number, run: (command: unknown, offset: number) => unknown): unknown[] {
    let s = this.#map.get(b.client);
    if (!s) {
      s = { acked: 0, last: index, results: new Map() };
      this.#map.set(b.client, s);
      if (this.#map.size > this.#max) this.#evict();
    }
    s.last = index;
    if (b.ack > s.acked) {
      s.acked = b.ack;
      for (const k of s.results.keys()) if (k <= b.ack) s.results.delete(k);
    }
    const results: unknown[] = [];
    for (let i = 0; i < b.commands.length; i++) {
      const n = b.seq + i;
      if (n <= s.acked || s.results.has(n)) {
        results.push(s.results.get(n));
        continue;
      }
      const r = run(b.commands[i], i);
      s.results.set(n, r);
      results.push(r);
    }
    return results;
  }

  /** The table for a snapshot. */
  records(): SessionRecord[] {
    return [...this.#map].map(([c, s]) => [c, s.acked, s.last, [...s.results]]);
  }

  /** Replaces the table with a snapshot's. */
  restore(records: SessionRecord[]): void {
    this.#map.clear();
    for (const [c, acked, last, results] of records) {
      this.#map.set(c, { acked, last, results: new Map(results) });
    }
  }

  #evict(): void {
    let victim: string | undefined;
    let low = Infinity;
    for (const [c, s] of this.#map) {
      if (s.last < low || (s.last === low && victim !== undefined && c < victim)) {
        low = s.last;
        victim = c;
      }
    }
    if (victim !== undefined) this.#map.delete(victim);
  }
}
