/**
 * {@linkcode Channel}: one QUIC bidirectional stream carrying framed
 * messages for one protocol.
 *
 * @module
 */
import { decode, encode, encodeView } from "./codec.ts";
import { ClosedError, DecodeError, MosaikError, ResourceLimitError } from "./errors.ts";
import type { PeerId } from "./ids.ts";
import { CloseCode, closeCodeName, type CloseInfo } from "./vocabulary.ts";
import type { FrameReader, FrameWriter } from "./_frames.ts";

/** The remote closed a channel with a close code other than `Success`. */
export class ChannelClosedError extends MosaikError {
  /** Creates the error from the remote's close frame. */
  constructor(readonly code: number, readonly reason: string) {
    super(
      `channel closed by remote: ${closeCodeName(code)} (${code})${reason ? `: ${reason}` : ""}`,
    );
  }
}

/**
 * What a channel knows of the connection it runs on (a `Connection`
 * satisfies it; channels never reach back into their connection).
 */
export interface ChannelLink {
  /** The authenticated remote peer. */
  readonly peerId: PeerId;
  /** The remote's UDP address, `host:port`. */
  readonly remoteAddress: string;
  /** Whether the connection has closed. */
  readonly isClosed: boolean;
  /** Resolves once the connection is closed, with the code and reason. */
  readonly closed: Promise<CloseInfo>;
  /** Rejects with the acceptor's refusal if it refused the dialer's identity proof. */
  readonly accepted: Promise<void>;
}

/**
 * A framed, ordered, reliable message pipe to one peer for one protocol.
 * Messages are MessagePack; small frames are coalesced into larger writes.
 * A malformed, truncated or oversized frame closes the channel with
 * `ProtocolViolation` and throws a {@linkcode DecodeError} to the reader.
 * A channel also ends without {@linkcode Channel.close} once this side read
 * the remote's close, or both sides finished: its connection forgets it
 * (and may then close when idle), and sending rejects with `ClosedError`.
 *
 * @example
 * ```ts ignore
 * const channel = await endpoint.open(peer, ["127.0.0.1:4433"], "/echo/1");
 * await channel.send({ hello: "world" });
 * const reply = await channel.recv();
 * await channel.close();
 * ```
 */
export class Channel implements AsyncDisposable, AsyncIterable<unknown> {
  /** The remote peer. */
  readonly peerId: PeerId;
  /** The protocol named when the channel was opened. */
  readonly protocol: string;
  /** The connection this channel runs on. */
  readonly connection: ChannelLink;
  #reader: FrameReader;
  #writer: FrameWriter;
  #onClose: (channel: Channel) => void;
  #verdict: Promise<void> | undefined;
  #closed = false;
  #finished = false;
  #remoteDone = false;

  /**
   * @internal Created by a connection; `onClose` runs once when this side
   * closes. On the dialer's first stream, `verdict` settles once the
   * acceptor's verdict, which comes before this channel's frames, was read.
   */
  constructor(
    connection: ChannelLink,
    protocol: string,
    reader: FrameReader,
    writer: FrameWriter,
    onClose: (channel: Channel) => void,
    verdict?: Promise<void>,
  ) {
    this.connection = connection;
    this.peerId = connection.peerId;
    this.protocol = protocol;
    this.#reader = reader;
    this.#writer = writer;
    this.#onClose = onClose;
    this.#verdict = verdict;
  }

  /** @internal Writes the protocol header; used by the opening side. */
  writeHeader(): Promise<void> {
    return this.#writer.write(new TextEncoder().encode(this.protocol));
  }

  /** Whether {@linkcode Channel.close} was called or the remote closed. */
  get closed(): boolean {
    return this.#closed || this.#remoteDone;
  }

  /** Sends a message (MessagePack). Resolves when buffered, not when delivered. */
  send(message: unknown): Promise<void> {
    return this.#refused() ?? this.#writer.write(encodeView(message), false, true);
  }

  /**
   * Sends one raw frame. Given as parts, the frame is their concatenation;
   * large parts are handed to QUIC as they are, not copied into one buffer
   * first, so they must not change until {@linkcode Channel.flush} resolves.
   */
  sendBytes(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.#refused() ?? this.#writer.write(bytes);
  }

  /** Why nothing can be sent now, as a rejected promise; `undefined` when it can. */
  #refused(): Promise<never> | undefined {
    if (this.#closed || this.#finished) {
      return Promise.reject(new ClosedError("channel is closed for sending"));
    }
    if (this.#writer.error !== undefined || this.connection.isClosed) {
      return this.#failed(this.#writer.error ?? new ClosedError("connection is closed"));
    }
  }

  /** Resolves when every message sent so far has been handed to QUIC. */
  flush(): Promise<void> {
    return this.#writer.drain().catch((e) => this.#failed(e));
  }

  /**
   * Rejects with why the stream failed with `e`: the acceptor's refusal when
   * it refused the connection (a `ConnectError` with its close code), else `e`.
   */
  async #failed(e: unknown): Promise<never> {
    await this.connection.accepted;
    throw e;
  }

  /**
   * The next message, or `undefined` when the remote finished cleanly.
   * Throws {@linkcode ChannelClosedError} when the remote closed with a code,
   * and the acceptor's `ConnectError` when it refused the connection.
   */
  async recv<T = unknown>(): Promise<T | undefined> {
    const bytes = await this.recvBytes();
    if (bytes === undefined) return undefined;
    try {
      return decode<T>(bytes);
    } catch (e) {
      this.#violation(e);
      throw e;
    }
  }

  /**
   * The next raw frame, or `undefined` when the remote finished cleanly.
   * With `reuse`, the frame may be read into the memory of the previous one
   * received with `reuse` (saving an allocation per frame): it is valid only
   * until the next receive, after which it may read as empty.
   */
  async recvBytes(options?: { reuse?: boolean }): Promise<Uint8Array | undefined> {
    if (this.#remoteDone) return undefined;
    if (this.#verdict) {
      try {
        await this.#verdict;
      } catch (e) {
        this.#remoteDone = true;
        throw e;
      }
      this.#verdict = undefined;
    }
    let frame;
    try {
      frame = await this.#reader.next(undefined, options?.reuse);
    } catch (e) {
      if (e instanceof DecodeError) this.#violation(e);
      else if (e instanceof ResourceLimitError) {
        this.close(CloseCode.ResourceLimit, e.message).catch(() => {});
      } else {
        this.#remoteDone = true;
        this.#release();
        await this.#failed(e);
      }
      throw e;
    }
    if (frame === undefined) {
      this.#remoteDone = true;
      if (this.#finished) this.#release();
      return undefined;
    }
    if (!frame.close) return frame.data;
    this.#remoteDone = true;
    let info: [number, string];
    try {
      info = decode<[number, string]>(frame.data);
    } catch (e) {
      this.#violation(e);
      throw e;
    }
    if (!Array.isArray(info) || typeof info[0] !== "number") {
      const e = new DecodeError("malformed close frame");
      this.#violation(e);
      throw e;
    }
    this.#release(); // the remote reads no more: what this side sends is lost
    if (info[0] === CloseCode.Success) return undefined;
    throw new ChannelClosedError(info[0], String(info[1] ?? ""));
  }

  #violation(error: unknown): void {
    this.close(CloseCode.ProtocolViolation, String((error as Error)?.message ?? error)).catch(
      () => {},
    );
  }

  /**
   * Half-closes the channel: flushes and finishes the sending side, so the
   * remote's `recv` returns `undefined` after the last message, while this
   * side can still receive its reply.
   */
  async finish(): Promise<void> {
    if (this.#closed || this.#finished) return;
    this.#finished = true;
    await this.#writer.finish();
    if (this.#remoteDone) this.#release();
  }

  /**
   * Closes the channel: sends a close frame with `code` (default `Success`),
   * flushes and finishes the stream, stops reading. Idempotent.
   */
  async close(code: number = CloseCode.Success, reason = ""): Promise<void> {
    if (this.#closed) return;
    if (!this.#finished) {
      this.#writer.write(encode([code, reason.slice(0, 200)]), true).catch(() => {});
    }
    await this.#end();
  }

  /**
   * Ends this side without a close frame once nothing more can pass: both
   * sides finished, the remote closed, or the stream failed. The connection
   * forgets the channel, so a handler that returns without closing it leaks
   * nothing and its connection can go idle.
   */
  #release(): void {
    if (!this.#closed) void this.#end();
  }

  /** Ends this side: the connection forgets it, the stream is finished, reading stops. */
  async #end(): Promise<void> {
    this.#closed = true;
    this.#onClose(this);
    if (!this.#finished) await this.#writer.finish(); // swallows its errors
    this.#stopReading();
  }

  /** Stops reading; on the proof's stream, once the acceptor's verdict was read from it. */
  #stopReading(): void {
    if (!this.#verdict) return this.#reader.cancel();
    const cancel = () => this.#reader.cancel();
    this.#verdict.then(cancel, cancel);
  }

  /** Sent and received payload bytes. */
  get stats(): { bytesSent: number; bytesReceived: number } {
    return { bytesSent: this.#writer.sent, bytesReceived: this.#reader.received };
  }

  /** Iterates received messages until the remote finishes. */
  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      const message = await this.recv();
      if (message === undefined) return;
      yield message;
    }
  }

  /** Closes the channel with `Success`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
