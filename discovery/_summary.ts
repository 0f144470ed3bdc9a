/**
 * Catalog summaries, `[[peer id bytes, start, counter], …]` in MessagePack,
 * written from the catalog and read from a message's bytes without building
 * a value per peer. A summary names every peer a node holds (10,000 at the
 * bound) and a neighbour syncs every few hundred milliseconds while its
 * catalog changes: decoded as values, two summaries a sync were tens of
 * thousands of objects living across the sync's awaits, and under a flood of
 * made-up peers they were most of what grew the heap.
 *
 * @module
 */
import { DecodeError, type PeerId, peerIdFromBytes, peerIdToBytes } from "@mosaik/transport";
import type { EntryVersion } from "./entry.ts";
import { Reader } from "./_reader.ts";

/** What a summary says of one peer. */
export interface Versioned {
  readonly peerId: PeerId;
  readonly version: EntryVersion;
}

/** The largest encoding of one summary item: fixarray, bin8 of 32 bytes, two uint64. */
const ITEM_MAX = 1 + 2 + 32 + 9 + 9;

class Writer {
  bytes: Uint8Array;
  view: DataView;
  at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** A MessagePack header: `tiny` (fix type) below `tinyMax`, else 8/16/32-bit lengths. */
  header(n: number, tiny: number, tinyMax: number, codes: [number, number, number]): void {
    const [c8, c16, c32] = codes;
    if (n < tinyMax) this.bytes[this.at++] = tiny | n;
    else if (c8 && n < 0x100) {
      this.bytes[this.at++] = c8;
      this.bytes[this.at++] = n;
    } else if (n < 0x10000) {
      this.bytes[this.at++] = c16;
      this.view.setUint16(this.at, n);
      this.at += 2;
    } else {
      this.bytes[this.at++] = c32;
      this.view.setUint32(this.at, n);
      this.at += 4;
    }
  }

  array(n: number): void {
    this.header(n, 0x90, 16, [0, 0xdc, 0xdd]);
  }

  bin(b: Uint8Array): void {
    this.header(b.length, 0xc4, 0, [0xc4, 0xc5, 0xc6]);
    this.bytes.set(b, this.at);
    this.at += b.length;
  }

  uint(v: number): void {
    if (v < 0x80) this.bytes[this.at++] = v;
    else if (v < 0x1_0000_0000) {
      this.bytes[this.at++] = 0xce;
      this.view.setUint32(this.at, v);
      this.at += 4;
    } else {
      this.bytes[this.at++] = 0xcf;
      this.view.setUint32(this.at, Math.floor(v / 0x1_0000_0000));
      this.view.setUint32(this.at + 4, v >>> 0);
      this.at += 8;
    }
  }

  done(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }
}

function writeSummary(w: Writer, peers: readonly Versioned[]): void {
  w.array(peers.length);
  for (const p of peers) {
    w.bytes[w.at++] = 0x93;
    w.bytes[w.at++] = 0xc4;
    w.bytes[w.at++] = 32;
    peerIdToBytes(p.peerId, w.bytes, w.at);
    w.at += 32;
    w.uint(p.version.start);
    w.uint(p.version.counter);
  }
}

/** The MessagePack of the summary of `peers`. */
export function encodeSummary(peers: readonly Versioned[]): Uint8Array {
  const w = new Writer(5 + peers.length * ITEM_MAX);
  writeSummary(w, peers);
  return w.done();
}

/** The MessagePack of an acceptor's reply `[entries, summary of peers]`. */
export function encodeSyncReply(
  entries: readonly Uint8Array[],
  peers: readonly Versioned[],
): Uint8Array {
  let size = 1 + 5 + 5 + peers.length * ITEM_MAX;
  for (const e of entries) size += 5 + e.length;
  const w = new Writer(size);
  w.array(2);
  w.array(entries.length);
  for (const e of entries) w.bin(e);
  writeSummary(w, peers);
  return w.done();
}

/** Calls `each` on every `(peer, start, counter)` of a summary; throws {@linkcode DecodeError}. */
function readSummary(
  r: Reader,
  max: number,
  each: (peer: PeerId, start: number, counter: number) => void,
): void {
  for (let n = r.array("summary", max); n > 0; n--) {
    r.array("summary entry", 3, 3);
    const key = r.bin("peer id");
    if (key.length !== 32) throw new DecodeError("peer id: wrong byte length");
    const peer = peerIdFromBytes(key);
    const start = r.uint("start");
    each(peer, start, r.uint("counter"));
  }
}

/**
 * Reads a summary message of at most `max` peers, calling `each` on every
 * item; throws {@linkcode DecodeError} on anything else.
 */
export function decodeSummary(
  bytes: Uint8Array,
  max: number,
  each: (peer: PeerId, start: number, counter: number) => void,
): void {
  const r = new Reader(bytes);
  readSummary(r, max, each);
  r.end();
}

/**
 * Reads an acceptor's reply `[entries, summary]`: calls `each` on every item
 * of the summary (at most `max`) and returns the entries (views into
 * `bytes`, at most `maxEntries`); throws {@linkcode DecodeError}.
 */
export function decodeSyncReply(
  bytes: Uint8Array,
  maxEntries: number,
  max: number,
  each: (peer: PeerId, start: number, counter: number) => void,
): Uint8Array[] {
  const r = new Reader(bytes);
  r.array("sync reply", 2, 2);
  const entries: Uint8Array[] = [];
  for (let n = r.array("entries", maxEntries); n > 0; n--) entries.push(r.bin("entry"));
  readSummary(r, max, each);
  r.end();
  return entries;
}
