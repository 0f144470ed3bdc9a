/**
 * The streams wire protocol on one transport channel (protocol
 * {@linkcode PROTOCOL}):
 *
 * 1. consumer → producer: `ping` frames (optional, RTT probes) and one
 *    `subscribe` { network, stream, criteria } (MessagePack control frames);
 * 2. producer → consumer: `pong` replies, then `start` { network, stream,
 *    epoch, seq } or a channel close with a named code;
 * 3. producer → consumer: binary data frames until close. A batch frame
 *    carries consecutive datums of the subscriber's queue, each with its
 *    per-producer sequence number; an end frame carries the producer's next
 *    sequence number before a graceful close.
 *
 * Batch: `u8 1 | u32 count | f64 firstSeq | count × (u32 seqDelta | u32 len | len bytes)`.
 * End: `u8 2 | f64 nextSeq`. All integers big-endian.
 *
 * @module
 */
import {
  deadline,
  DecodeError,
  digestBytes,
  frameBuffer,
  type NetworkId,
  releaseFrame,
  type StreamId,
  toHex,
} from "@mosaik/transport";
import type { StreamsChannel } from "./link.ts";

/** The transport protocol name of streams. */
export const PROTOCOL = "/mosaik/streams/1";

/** Kind byte of a batch data frame. */
export const FRAME_BATCH = 1;
/** Kind byte of an end frame. */
export const FRAME_END = 2;
/** Bytes of a batch frame header. */
export const BATCH_HEADER = 13;
/** Bytes of per-datum overhead in a batch frame. */
export const ITEM_HEADER = 8;
/** Largest sequence-number step between two datums of one batch. */
export const MAX_DELTA = 0xffff_ffff;

/** A control message. */
export type Control =
  | { t: "subscribe"; network: NetworkId; stream: StreamId }
  | { t: "start"; network: NetworkId; stream: StreamId; epoch: number; seq: number }
  | { t: "ping"; n: number }
  | { t: "pong"; n: number };

/** The MessagePack-ready form of a control message (ids as raw 32 bytes). */
export function controlToWire(c: Control): Record<string, unknown> {
  switch (c.t) {
    case "subscribe":
      return {
        t: c.t,
        network: digestBytes(c.network),
        stream: digestBytes(c.stream),
        criteria: {},
      };
    case "start":
      return {
        t: c.t,
        network: digestBytes(c.network),
        stream: digestBytes(c.stream),
        epoch: c.epoch,
        seq: c.seq,
      };
    default:
      return { t: c.t, n: c.n };
  }
}

function id32<T extends string>(v: unknown, what: string): T {
  if (!(v instanceof Uint8Array) || v.length !== 32) throw new DecodeError(`bad ${what} id`);
  return toHex(v) as T;
}

function counter(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new DecodeError(`bad ${what}`);
  }
  return v;
}

/** Validates a decoded control frame; throws {@linkcode DecodeError}. */
export function controlFromWire(v: unknown): Control {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new DecodeError("a control frame is a map");
  }
  const m = v as Record<string, unknown>;
  switch (m.t) {
    case "subscribe":
      return {
        t: "subscribe",
        network: id32(m.network, "network"),
        stream: id32(m.stream, "stream"),
      };
    case "start":
      return {
        t: "start",
        network: id32(m.network, "network"),
        stream: id32(m.stream, "stream"),
        epoch: counter(m.epoch, "epoch"),
        seq: counter(m.seq, "sequence number"),
      };
    case "ping":
    case "pong":
      return { t: m.t, n: counter(m.n, "nonce") };
    default:
      throw new DecodeError("unknown control message");
  }
}

/** How long a ping waits for its pong (ms). */
export const PING_TIMEOUT = 5_000;

/**
 * Sends a ping on a channel and waits for its pong; resolves with the round
 * trip in ms. Rejects with `TimeoutError` after {@linkcode PING_TIMEOUT},
 * `DecodeError` on a wrong answer, or the channel's error.
 */
export async function ping(channel: StreamsChannel): Promise<number> {
  const n = Math.floor(Math.random() * 2 ** 31);
  const t0 = performance.now();
  await channel.send(controlToWire({ t: "ping", n }));
  const c = controlFromWire(await deadline(channel.recv(), PING_TIMEOUT));
  if (c.t !== "pong" || c.n !== n) throw new DecodeError("bad pong");
  return performance.now() - t0;
}

/** Encodes items `from..to` of a subscriber queue into one batch frame. */
export function encodeBatch(
  seqs: readonly number[],
  datas: readonly Uint8Array[],
  from: number,
  to: number,
): Uint8Array {
  let size = BATCH_HEADER;
  for (let i = from; i < to; i++) size += ITEM_HEADER + datas[i].length;
  const out = frameBuffer(size);
  const view = new DataView(out.buffer, out.byteOffset, size);
  out[0] = FRAME_BATCH;
  view.setUint32(1, to - from);
  view.setFloat64(5, seqs[from]);
  let at = BATCH_HEADER;
  let prev = seqs[from];
  for (let i = from; i < to; i++) {
    const d = datas[i];
    view.setUint32(at, seqs[i] - prev);
    view.setUint32(at + 4, d.length);
    out.set(d, at + ITEM_HEADER);
    at += ITEM_HEADER + d.length;
    prev = seqs[i];
  }
  return out;
}

/**
 * The batch frame of one datum as parts (header, datum): the datum is sent
 * as it is, not copied into a frame.
 */
export function loneBatch(seq: number, data: Uint8Array): Uint8Array[] {
  const head = new Uint8Array(BATCH_HEADER + ITEM_HEADER);
  const view = new DataView(head.buffer);
  head[0] = FRAME_BATCH;
  view.setUint32(1, 1);
  view.setFloat64(5, seq);
  view.setUint32(BATCH_HEADER + 4, data.length);
  return [head, data];
}

/**
 * The last few batch frames a producer encoded, keyed by their range of
 * sequence numbers: subscribers that take the same range (fan-out in step)
 * share one frame instead of encoding it each. A frame the cache forgets is
 * released (`releaseFrame`): a frame from {@linkcode FrameCache.batch} must be
 * handed to its channel before the next call of `batch` or `clear`, which may
 * reuse its memory once the channels took its bytes.
 */
export class FrameCache {
  readonly #frames: { first: number; last: number; count: number; frame: Uint8Array }[] = [];
  readonly #size: number;

  /** Keeps the last `size` frames. */
  constructor(size = 8) {
    this.#size = size;
  }

  /** Forgets every frame (no subscriber will ask for them again). */
  clear(): void {
    for (const f of this.#frames) releaseFrame(f.frame);
    this.#frames.length = 0;
  }

  /** The frame of items `from..to`, from the cache or freshly encoded. */
  batch(
    seqs: readonly number[],
    datas: readonly Uint8Array[],
    from: number,
    to: number,
  ): Uint8Array {
    const first = seqs[from];
    const last = seqs[to - 1];
    const count = to - from;
    for (const f of this.#frames) {
      if (f.first === first && f.last === last && f.count === count) return f.frame;
    }
    const frame = encodeBatch(seqs, datas, from, to);
    if (this.#frames.length >= this.#size) releaseFrame(this.#frames.shift()!.frame);
    this.#frames.push({ first, last, count, frame });
    return frame;
  }
}

/** Encodes an end frame. */
export function encodeEnd(nextSeq: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = FRAME_END;
  new DataView(out.buffer).setFloat64(1, nextSeq);
  return out;
}

/** A decoded data frame. */
export type DataFrame =
  | { kind: "batch"; seqs: number[]; datas: Uint8Array[] }
  | { kind: "end"; nextSeq: number };

/**
 * Decodes a data frame, checking every length and sequence number before
 * returning anything; throws {@linkcode DecodeError}. Datum bytes are views
 * into `frame`.
 */
export function decodeDataFrame(frame: Uint8Array): DataFrame {
  if (frame.length < 1) throw new DecodeError("empty data frame");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame[0] === FRAME_END) {
    if (frame.length !== 9) throw new DecodeError("bad end frame");
    return { kind: "end", nextSeq: counter(view.getFloat64(1), "sequence number") };
  }
  if (frame[0] !== FRAME_BATCH) throw new DecodeError(`unknown data frame kind ${frame[0]}`);
  if (frame.length < BATCH_HEADER) throw new DecodeError("truncated batch header");
  const count = view.getUint32(1);
  if (count === 0 || count > (frame.length - BATCH_HEADER) / ITEM_HEADER) {
    throw new DecodeError("bad batch count");
  }
  let seq = counter(view.getFloat64(5), "sequence number");
  const seqs = new Array<number>(count);
  const datas = new Array<Uint8Array>(count);
  let at = BATCH_HEADER;
  for (let i = 0; i < count; i++) {
    if (at + ITEM_HEADER > frame.length) throw new DecodeError("truncated batch item");
    const delta = view.getUint32(at);
    if (i > 0 && delta === 0) throw new DecodeError("sequence numbers must increase");
    seq += delta;
    const len = view.getUint32(at + 4);
    at += ITEM_HEADER;
    if (len > frame.length - at) throw new DecodeError("truncated batch datum");
    if (!Number.isSafeInteger(seq)) throw new DecodeError("sequence number overflow");
    seqs[i] = seq;
    datas[i] = frame.subarray(at, at + len);
    at += len;
  }
  if (at !== frame.length) throw new DecodeError("trailing bytes after batch");
  return { kind: "batch", seqs, datas };
}
