// Length-prefixed frames over QUIC streams. A frame is a 4-byte big-endian
// length then the payload; a length with the top bit set marks a close frame
// whose payload is MessagePack `[code, reason]`.
import { FrameTooLargeError, TruncatedFrameError } from "./errors.ts";

export const CLOSE_BIT = 0x8000_0000;
/** Bytes buffered by a writer before `write` waits for the stream. */
const HIGH_WATER = 1 << 20;
/**
 * Bytes asked of a byte stream at least: what a channel waiting for its next
 * frame holds. A default reader would hold a 64 KiB buffer per pending read,
 * so a thousand idle channels would cost 64 MiB.
 */
const READ_MIN = 4096;
/** Bytes asked at most in one read: a large frame arrives in reads of this size. */
const READ_MAX = 64 * 1024;

export type Frame = { data: Uint8Array; close: false } | { data: Uint8Array; close: true };

/**
 * Reads frames from a stream. Received chunks are queued as they are and
 * copied once, into the frame they belong to: no buffer grows or is copied
 * per chunk, so a large frame arriving in many small chunks costs linear time.
 * A byte stream (as QUIC streams are) is read into buffers sized by what the
 * reader waits for, between {@linkcode READ_MIN} and {@linkcode READ_MAX}.
 */
export class FrameReader {
  #reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  #read: (want: number) => Promise<ReadableStreamReadResult<Uint8Array>>;
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first unread chunk
  #offset = 0; // bytes of chunks[head] already taken
  #buffered = 0; // unread bytes across chunks
  #max: number;
  /** Payload bytes received, for stats. */
  received = 0;

  constructor(readable: ReadableStream<Uint8Array>, max: number) {
    this.#max = max;
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = readable.getReader({ mode: "byob" });
    } catch {
      byob = undefined; // not a byte stream
    }
    if (byob) {
      this.#reader = byob;
      this.#read = (want) =>
        byob.read(new Uint8Array(Math.min(Math.max(want, READ_MIN), READ_MAX))) as Promise<
          ReadableStreamReadResult<Uint8Array>
        >;
    } else {
      const reader = readable.getReader();
      this.#reader = reader;
      this.#read = () => reader.read();
    }
  }

  async #fill(need: number): Promise<boolean> {
    while (this.#buffered < need) {
      const { value, done } = await this.#read(need - this.#buffered);
      if (done || !value) return false;
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
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

  /**
   * The next frame, or `undefined` when the stream ended between frames. A
   * frame larger than `limit` (default: the reader's maximum) is refused
   * from its length prefix, before its payload is read.
   */
  async next(limit: number = this.#max): Promise<Frame | undefined> {
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
    if (!(await this.#fill(size))) {
      throw new TruncatedFrameError(`stream ended inside a ${size}-byte frame`);
    }
    const data = size === 0 ? new Uint8Array(0) : this.#take(size);
    this.received += size;
    return { data, close } as Frame;
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/**
 * Coalesces frames: the first frame is written at once; frames queued while a
 * write is in flight go out together in the next write. `write` resolves at
 * once unless more than {@linkcode HIGH_WATER} bytes wait.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> | undefined;
  #error: unknown;
  #max: number;
  /** Payload bytes accepted, for stats. */
  sent = 0;

  constructor(writable: WritableStream<Uint8Array>, max: number) {
    this.#writer = writable.getWriter();
    this.#max = max;
  }

  write(payload: Uint8Array, close = false): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (payload.length > this.#max) {
      return Promise.reject(new FrameTooLargeError(payload.length, this.#max));
    }
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, close ? payload.length + CLOSE_BIT : payload.length);
    this.#pending.push(header, payload);
    this.#pendingBytes += payload.length + 4;
    this.sent += payload.length;
    this.#flushing ??= this.#flush();
    return this.#pendingBytes > HIGH_WATER ? this.drain() : Promise.resolve();
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
        const size = this.#pendingBytes;
        this.#pending = [];
        this.#pendingBytes = 0;
        let out: Uint8Array;
        if (chunks.length === 2 && chunks[1].length > 16_384) {
          await this.#writer.write(chunks[0]);
          out = chunks[1];
        } else {
          out = new Uint8Array(size);
          let at = 0;
          for (const c of chunks) {
            out.set(c, at);
            at += c.length;
          }
        }
        await this.#writer.write(out);
      }
    } catch (e) {
      this.#error = e;
      this.#pending = [];
      this.#pendingBytes = 0;
    } finally {
      this.#flushing = undefined;
    }
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
