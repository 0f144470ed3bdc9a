// Length-prefixed frames over QUIC streams. A frame is a 4-byte big-endian
// length then the payload; a length with the top bit set marks a close frame
// whose payload is MessagePack `[code, reason]`.
import { FrameTooLargeError, ResourceLimitError, TruncatedFrameError } from "./errors.ts";
import { hasHeadroom, hold, unhold } from "./_frame_buffers.ts";

export const CLOSE_BIT = 0x8000_0000;
/** Bytes buffered by a writer before `write` waits for the stream. */
const HIGH_WATER = 1 << 20;
/**
 * Bytes a byte stream is asked for while waiting for a frame header with
 * nothing buffered: what an idle channel holds. (A default reader holds a
 * 64 KiB buffer per pending read: a thousand idle channels cost 64 MiB.)
 */
const READ_IDLE = 4096;
/** Bounds of the read size, which doubles after a full read and halves after a sparse one. */
const READ_MIN = 256;
const READ_MAX = 64 * 1024;
/** Capacity of the buffer small reads are gathered in (see `#push`). */
const GATHER = 4096;
/**
 * Frames from this size on that are not buffered yet are read straight into
 * their own buffer when the budget has room for it: read in chunks they would
 * mostly span two and cost a second copy (a 64 KiB frame never fits the
 * 64 KiB read it starts in).
 */
const DIRECT = 16 * 1024;
/** Largest buffer kept between frames received with `reuse` (see {@linkcode FrameReader.next}). */
const SPARE_MAX = 2 * READ_MAX;

export type Frame = { data: Uint8Array; close: false } | { data: Uint8Array; close: true };

/**
 * Takes `bytes` of the node's budget for frames in assembly and returns its
 * release, or `undefined` when the budget is spent.
 */
export type ReserveBytes = (bytes: number) => (() => void) | undefined;

/**
 * Reads frames from a stream. Received chunks are queued as they are and
 * copied once, into the frame they belong to: no buffer grows or is copied
 * per chunk, so a large frame arriving in many small chunks costs linear time.
 *
 * A byte stream (as QUIC streams are) is read into buffers this reader
 * sizes: small while idle, growing while reads come back full, shrinking
 * while they come back sparse. Sparse reads are gathered into shared
 * buffers, so a peer trickling a byte per packet costs a byte per byte, not a
 * buffer and an object per byte.
 */
export class FrameReader {
  #reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  #byob: boolean;
  #size = READ_IDLE; // the next read's size, between READ_MIN and READ_MAX
  #gather: Uint8Array | undefined; // the last chunk when it gathers small reads
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first unread chunk
  #offset = 0; // bytes of chunks[head] already taken
  #buffered = 0; // unread bytes across chunks
  #max: number;
  #reserve: ReserveBytes | undefined;
  /** The buffer of the last frame read straight into its own buffer with `reuse`. */
  #spare: ArrayBuffer | undefined;
  /** Payload bytes received, for stats. */
  received = 0;

  /**
   * Frames over `max` bytes are refused. A frame larger than one read
   * ({@linkcode READ_MAX}) is assembled only with `reserve`'s consent:
   * otherwise it throws {@linkcode ResourceLimitError}. One from
   * {@linkcode DIRECT} bytes up to one read goes straight into its own
   * buffer with that consent, and in chunks without it.
   */
  constructor(readable: ReadableStream<Uint8Array>, max: number, reserve?: ReserveBytes) {
    this.#max = max;
    this.#reserve = reserve;
    try {
      this.#reader = readable.getReader({ mode: "byob" });
      this.#byob = true;
    } catch {
      this.#reader = readable.getReader(); // not a byte stream
      this.#byob = false;
    }
  }

  async #read(want: number): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (!this.#byob) return await (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
    const idle = this.#buffered === 0 && want <= 4;
    const size = idle ? Math.min(this.#size, READ_IDLE) : this.#size;
    const result = await (this.#reader as ReadableStreamBYOBReader).read(new Uint8Array(size));
    const n = result.value?.length ?? 0;
    if (n === size) this.#size = Math.min(this.#size * 2, READ_MAX);
    else if (n * 4 < size) {
      this.#size = Math.max(this.#size / 2, READ_MIN);
      this.#spare = undefined; // traffic thinned out: hold no frame buffer for it
    }
    return result as ReadableStreamReadResult<Uint8Array>;
  }

  async #fill(need: number): Promise<boolean> {
    while (this.#buffered < need) {
      const { value, done } = await this.#read(need - this.#buffered);
      if (done || !value) return false;
      if (value.length === 0) continue;
      this.#push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  /**
   * Queues a received chunk. One that fills little of its buffer is copied
   * into the gathering buffer (appended to the last chunk when that is the
   * gathering one and has room), so its own buffer can go. Views already
   * handed out of a gathering buffer never see later bytes: they end before.
   */
  #push(value: Uint8Array): void {
    if (value.length * 4 >= value.buffer.byteLength) {
      this.#chunks.push(value);
      this.#gather = undefined;
      return;
    }
    const last = this.#chunks.length - 1;
    const tail = this.#gather;
    if (
      tail && last >= this.#head && this.#chunks[last] === tail &&
      tail.byteOffset + tail.length + value.length <= tail.buffer.byteLength
    ) {
      const grown = new Uint8Array(tail.buffer, tail.byteOffset, tail.length + value.length);
      grown.set(value, tail.length);
      this.#chunks[last] = this.#gather = grown;
      return;
    }
    const fresh = new Uint8Array(new ArrayBuffer(Math.max(GATHER, value.length)), 0, value.length);
    fresh.set(value);
    this.#chunks.push(fresh);
    this.#gather = fresh;
  }

  /** Removes and returns the next `n` buffered bytes (a view when they lie in one chunk). */
  #take(n: number): Uint8Array {
    const first = this.#chunks[this.#head];
    let out: Uint8Array;
    if (first.length - this.#offset >= n) {
      out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const chunk = this.#chunks[this.#head];
        const part = Math.min(n - at, chunk.length - this.#offset);
        out.set(chunk.subarray(this.#offset, this.#offset + part), at);
        at += part;
        this.#offset += part;
        if (this.#offset === chunk.length) this.#drop();
      }
    }
    if (this.#head < this.#chunks.length && this.#offset === this.#chunks[this.#head].length) {
      this.#drop();
    }
    this.#buffered -= n;
    return out;
  }

  #drop(): void {
    this.#head++;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 64) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Waits until a byte past what was read has arrived; false when the stream ended first. */
  async waitForData(): Promise<boolean> {
    return await this.#fill(1);
  }

  /**
   * The next frame, or `undefined` when the stream ended between frames. A
   * frame larger than `limit` (default: the reader's maximum) is refused
   * from its length prefix, before its payload is read.
   *
   * With `reuse`, a frame read straight into its own buffer gets the buffer
   * of the last such frame when it fits, instead of a new one: the caller
   * must be done with the previous frame (whose view is then detached).
   */
  async next(limit: number = this.#max, reuse = false): Promise<Frame | undefined> {
    if (!(await this.#fill(4))) {
      if (this.#buffered > 0) throw new TruncatedFrameError("stream ended inside a frame header");
      return undefined;
    }
    const b = this.#take(4);
    const word = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    const close = word >= CLOSE_BIT;
    const size = close ? word - CLOSE_BIT : word;
    const max = Math.min(limit, this.#max);
    if (size > max) throw new FrameTooLargeError(size, max);
    let release: (() => void) | undefined = () => {};
    let direct = false;
    if (size > READ_MAX) {
      if (this.#reserve) release = this.#reserve(size);
      if (!release) throw new ResourceLimitError(`no room to receive a ${size}-byte frame`);
      direct = this.#byob;
    } else if (size >= DIRECT && this.#byob && this.#buffered < size && this.#reserve) {
      // its buffer is allocated before its bytes arrive: only with room in the
      // budget (else it is read in chunks, which hold only what arrived)
      const room = this.#reserve(size);
      if (room) [release, direct] = [room, true];
    }
    try {
      const data = direct ? await this.#readInto(size, reuse) : await this.#all(size);
      this.received += size;
      return { data, close } as Frame;
    } finally {
      release();
    }
  }

  async #all(size: number): Promise<Uint8Array> {
    if (!(await this.#fill(size))) {
      throw new TruncatedFrameError(`stream ended inside a ${size}-byte frame`);
    }
    return size === 0 ? new Uint8Array(0) : this.#take(size);
  }

  /**
   * A large frame read straight into its own buffer (over {@linkcode READ_MAX}
   * its room is reserved): no chunks to hold and copy, so it costs its size
   * once. With `reuse`, the buffer is the last one's when it fits (taken
   * over by `transfer`, so views of the last frame read as empty), else a new
   * one of at least {@linkcode READ_MAX} bytes, kept for the next frame.
   */
  async #readInto(size: number, reuse: boolean): Promise<Uint8Array> {
    let at = Math.min(this.#buffered, size);
    const spare = this.#spare;
    this.#spare = undefined;
    let buffer = !reuse
      ? new ArrayBuffer(size)
      : spare && spare.byteLength >= size
      ? spare.transfer()
      : new ArrayBuffer(Math.max(size, READ_MAX));
    if (at > 0) new Uint8Array(buffer).set(this.#take(at));
    const reader = this.#reader as ReadableStreamBYOBReader;
    while (at < size) {
      const { value, done } = await reader.read(new Uint8Array(buffer, at, size - at));
      if (done || !value) throw new TruncatedFrameError(`stream ended inside a ${size}-byte frame`);
      buffer = value.buffer as ArrayBuffer;
      at += value.length;
    }
    if (reuse && buffer.byteLength <= SPARE_MAX) this.#spare = buffer;
    return new Uint8Array(buffer, 0, size);
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** Parts of a lone frame over this size are written as they are, not joined first. */
const WRITE_AS_IS = 16_384;

/** Payloads up to this size are copied behind their header rather than queued with it. */
const COPY_SMALL = 256;

/**
 * Coalesces frames: the first frame is written at once; frames queued while a
 * write is in flight go out together in the next write. `write` resolves at
 * once unless more than {@linkcode HIGH_WATER} bytes wait.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #pendingFrames = 0;
  #flushing: Promise<void> | undefined;
  #error: unknown;
  #max: number;
  /** Payload bytes accepted, for stats. */
  sent = 0;

  constructor(writable: WritableStream<Uint8Array>, max: number) {
    this.#writer = writable.getWriter();
    this.#max = max;
  }

  /**
   * Queues a frame. `transient`: `payload` may change once this returns (a
   * view of the codec's buffer), so it is copied now.
   */
  write(payload: Uint8Array, close?: boolean, transient?: boolean): Promise<void>;
  /** Queues a frame; given as parts, its payload is their concatenation. */
  write(payload: Uint8Array | readonly Uint8Array[], close?: boolean): Promise<void>;
  write(
    payload: Uint8Array | readonly Uint8Array[],
    close = false,
    transient = false,
  ): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    let size = 0;
    if (payload instanceof Uint8Array) size = payload.length;
    else for (const part of payload) size += part.length;
    if (size > this.#max) return Promise.reject(new FrameTooLargeError(size, this.#max));
    const word = close ? size + CLOSE_BIT : size;
    if (
      !close && payload instanceof Uint8Array && payload.byteOffset === 4 &&
      hasHeadroom(payload.buffer)
    ) {
      // the same bytes whichever channel sends it: a frame shared by channels
      // gets the same header from each
      const framed = new Uint8Array(payload.buffer, 0, size + 4);
      new DataView(framed.buffer).setUint32(0, word);
      this.#pending.push(framed);
      hold(framed);
    } else if (payload instanceof Uint8Array && (transient || size <= COPY_SMALL)) {
      // One buffer for header and payload: V8 pays more for each small
      // buffer than for copying a small payload.
      const framed = new Uint8Array(size + 4);
      new DataView(framed.buffer).setUint32(0, word);
      framed.set(payload, 4);
      this.#pending.push(framed);
    } else {
      const header = new Uint8Array(4);
      new DataView(header.buffer).setUint32(0, word);
      this.#pending.push(header);
      for (const part of payload instanceof Uint8Array ? [payload] : payload) {
        this.#pending.push(part);
        hold(part);
      }
    }
    this.#pendingBytes += size + 4;
    this.#pendingFrames++;
    this.sent += size;
    this.#flushing ??= this.#flush();
    return this.#pendingBytes > HIGH_WATER ? this.drain() : Promise.resolve();
  }

  /** Why the stream failed, once a write failed; `undefined` until then. */
  get error(): unknown {
    return this.#error;
  }

  /** Resolves when every queued frame was handed to the stream. */
  async drain(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#error !== undefined) throw this.#error;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const chunks = this.#pending;
        const frames = this.#pendingFrames;
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#pendingFrames = 0;
        // Large parts go out as they are (no copy): a lone frame's, and
        // frames that come with their header (see frameBuffer) among several;
        // runs of the rest are joined.
        let from = 0;
        let bytes = 0;
        for (let i = 0; i < chunks.length; i++) {
          const part = chunks[i];
          if (part.length <= WRITE_AS_IS || (frames > 1 && !isFramed(part))) {
            bytes += part.length;
            continue;
          }
          if (i > from) await this.#write(chunks, from, i, bytes);
          await this.#write(chunks, i, i + 1, part.length);
          from = i + 1;
          bytes = 0;
        }
        if (from < chunks.length) await this.#write(chunks, from, chunks.length, bytes);
      }
    } catch (e) {
      this.#error = e;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#pendingFrames = 0;
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Writes chunks `from..to` (`bytes` in all) as one buffer, then ends the
   * holds on lent ones: QUIC has their bytes (a failed write keeps its holds,
   * and the buffers are left to the collector).
   */
  async #write(chunks: Uint8Array[], from: number, to: number, bytes: number): Promise<void> {
    await this.#writer.write(join(chunks, from, to, bytes));
    for (let i = from; i < to; i++) unhold(chunks[i]);
  }

  /** Flushes, then finishes the stream. */
  async finish(): Promise<void> {
    try {
      await this.drain();
      await this.#writer.close();
    } catch {
      // the stream is already gone; nothing left to finish
    }
  }

  abort(): void {
    this.#error ??= new Error("aborted");
    this.#writer.abort().catch(() => {});
  }
}

/** Whether `part` is a whole frame, header included, in a buffer from `frameBuffer`. */
function isFramed(part: Uint8Array): boolean {
  return part.byteOffset === 0 && hasHeadroom(part.buffer);
}

/** Parts `from..to` of `chunks` (`bytes` long in all) as one buffer; a lone part as it is. */
function join(chunks: readonly Uint8Array[], from: number, to: number, bytes: number): Uint8Array {
  if (to - from === 1) return chunks[from];
  const out = new Uint8Array(bytes);
  let at = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i], at);
    at += chunks[i].length;
  }
  return out;
}
