/**
 * {@linkcode Connection}: the one authenticated QUIC connection to a peer,
 * shared by every protocol.
 *
 * @module
 */
import { formatHostPort } from "./address.ts";
import { Channel, type ChannelLink } from "./channel.ts";
import { ClosedError, type ConnectError } from "./errors.ts";
import type { PeerId } from "./ids.ts";
import { CloseCode, type CloseInfo } from "./vocabulary.ts";
import { FrameReader, FrameWriter, type ReserveBytes } from "./_frames.ts";
import { logger } from "./log.ts";
import { EARLY_STREAMS, type SpareStream } from "./_handshake.ts";

const log = logger("transport");
/** Milliseconds a channel waits for stream credit before that is worth a warning. */
const CREDIT_WAIT_WARNING = 1_000;

/**
 * An authenticated connection to one peer. The dialer knows the peer by its
 * pinned TLS key; the acceptor by the dialer's signed proof. The dialer has
 * it as soon as QUIC's handshake is done and its proof is on the way: until
 * the acceptor accepts the proof ({@linkcode Connection.accepted}), channels
 * open at once and their frames wait at the acceptor; a refusal closes the
 * connection and is what the first failing operation throws.
 */
export class Connection implements ChannelLink {
  /** The authenticated remote peer. */
  readonly peerId: PeerId;
  /** The remote's UDP address, `host:port`. */
  readonly remoteAddress: string;
  /** Whether this side dialed. */
  readonly outbound: boolean;
  /** `"direct"`, or `"relayed"` when its packets pass through a relay. */
  readonly path: "direct" | "relayed";
  /**
   * Resolves once the connection is closed, with the code and reason; for a
   * dialer refused ({@linkcode Connection.accepted}), the refusal's.
   */
  readonly closed: Promise<CloseInfo>;
  /**
   * Resolves once the acceptor accepted this side's identity proof (already
   * resolved on the acceptor's side); rejects with a `ConnectError` carrying
   * the acceptor's close code (`DifferentNetwork`, `InvalidProof`,
   * `ClockSkew`, `Blocked`, `ResourceLimit`, …) when it refused.
   */
  readonly accepted: Promise<void>;
  #refusal: ConnectError | undefined;
  #verified: boolean;
  #early = 0; // channels opened before the verdict
  #spare: SpareStream | undefined; // the proof's stream, for the first channel
  #conn: Deno.QuicConn;
  #maxFrameSize: number;
  #reserve: ReserveBytes;
  #trackIncoming: () => () => void;
  #isClosed = false;
  #creditSpent = false; // said once that the remote's stream credit ran out
  #lastActive = Date.now(); // when a channel last opened, arrived or closed
  #opening = 0;
  #channels = new Set<Channel>();
  #incoming = new Map<Channel, () => void>(); // each with its release

  /**
   * @internal Created by the endpoint after the handshake; `dialed`: this
   * side dialed, and the acceptor's verdict and the proof's stream come with it.
   */
  constructor(
    conn: Deno.QuicConn,
    peerId: PeerId,
    frames: { maxFrameSize: number; reserve: ReserveBytes; trackIncoming: () => () => void },
    path: "direct" | "relayed",
    dialed?: { accepted: Promise<void>; spare: SpareStream },
  ) {
    this.#conn = conn;
    this.peerId = peerId;
    this.outbound = !!dialed;
    this.path = path;
    this.#maxFrameSize = frames.maxFrameSize;
    this.#reserve = frames.reserve;
    this.#trackIncoming = frames.trackIncoming;
    this.remoteAddress = formatHostPort(conn.remoteAddr);
    this.closed = conn.closed.then(
      // QUIC reports no code for a close of ours: a refusal names it (say, a verdict that never came)
      (info) =>
        this.#refusal && !info.closeCode
          ? {
            code: this.#refusal.closeCode ?? CloseCode.UnexpectedClose,
            reason: this.#refusal.message,
          }
          : { code: info.closeCode, reason: info.reason },
      (e) => ({ code: CloseCode.UnexpectedClose, reason: String(e?.message ?? e) }),
    ).finally(() => {
      this.#isClosed = true;
      for (const release of this.#incoming.values()) release(); // their streams are gone
      this.#incoming.clear();
    });
    const accepted = this.accepted = dialed?.accepted ?? Promise.resolve();
    this.#spare = dialed?.spare;
    this.#verified = !dialed;
    accepted.then(() => this.#verified = true, (e: ConnectError) => {
      this.#refusal = e;
      this.#isClosed = true;
    });
  }

  /** Whether the connection has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Channels open on this connection (both directions) that this side has not closed. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Opens a channel for `protocol` on this connection. */
  async open(protocol: string): Promise<Channel> {
    this.#opening++; // not idle while a channel opens
    try {
      return await this.#open(protocol);
    } finally {
      this.#opening--;
      this.touch();
    }
  }

  async #open(protocol: string): Promise<Channel> {
    this.#usable();
    // the proof's stream, still unused: its verdict comes first, then this channel's frames
    const first = this.#spare?.take();
    this.#spare = undefined;
    if (first) return await this.#channel(protocol, first.reader, first.writer, this.accepted);
    // the acceptor refuses a dialer opening more before its proof checks out
    if (!this.#verified && ++this.#early > EARLY_STREAMS) {
      await this.accepted;
      this.#usable();
    }
    let stream: Deno.QuicBidirectionalStream;
    try {
      stream = await this.#stream();
    } catch (cause) {
      await this.accepted; // throws the acceptor's refusal, if that is why
      throw new ClosedError(`connection to ${this.peerId} is closed`, { cause });
    }
    return await this.#channel(
      protocol,
      new FrameReader(stream.readable, this.#maxFrameSize, this.#reserve),
      new FrameWriter(stream.writable, this.#maxFrameSize),
    );
  }

  /** Throws the acceptor's refusal, or that the connection is closed. */
  #usable(): void {
    if (this.#refusal) throw this.#refusal;
    if (this.#isClosed) throw new ClosedError(`connection to ${this.peerId} is closed`);
  }

  async #channel(
    protocol: string,
    reader: FrameReader,
    writer: FrameWriter,
    verdict?: Promise<void>,
  ): Promise<Channel> {
    const channel = new Channel(this, protocol, reader, writer, this.#forget, verdict);
    this.#channels.add(channel);
    await channel.writeHeader();
    return channel;
  }

  /** @internal Notes activity (a channel arrived): an idle connection's clock starts again. */
  touch(): void {
    this.#lastActive = Date.now();
  }

  /** @internal Whether it carried no channel, and opened or received none, for `ms` up to `now`. */
  idleFor(ms: number, now: number): boolean {
    return this.#channels.size === 0 && this.#opening === 0 && now - this.#lastActive >= ms;
  }

  /**
   * A new stream. When the remote's credit is spent it waits for some, and
   * says so once if that lasts (the identity proof holds a stream for a
   * moment after connecting, so a short wait is no news).
   */
  async #stream(): Promise<Deno.QuicBidirectionalStream> {
    try {
      return await this.#conn.createBidirectionalStream({ waitUntilAvailable: false });
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
    const waiting = this.#conn.createBidirectionalStream({ waitUntilAvailable: true });
    if (!this.#creditSpent) {
      const timer = setTimeout(() => {
        if (this.#creditSpent) return;
        this.#creditSpent = true;
        log.warn(
          `${this.#channels.size - this.#incoming.size} channels are open to ${this.peerId}, ` +
            "all it grants on one connection (its maxStreamsPerConnection): further channels " +
            "wait until one closes",
        );
      }, CREDIT_WAIT_WARNING);
      waiting.finally(() => clearTimeout(timer)).catch(() => {});
    }
    return await waiting;
  }

  #forget = (channel: Channel): void => {
    this.touch();
    this.#channels.delete(channel);
    this.#incoming.get(channel)?.();
    this.#incoming.delete(channel);
  };

  /**
   * @internal Finishes every open channel (or gives up after `ms`), then
   * lingers `linger` ms so QUIC can transmit what was queued: a connection
   * close discards stream data not yet sent, and Deno's QUIC API has no
   * signal for "acknowledged".
   */
  async flush(ms: number, linger: number): Promise<void> {
    if (this.#channels.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#channels].map((c) => c.finish())),
      new Promise((r) => timer = setTimeout(r, ms)),
    ]);
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, linger));
  }

  /** @internal Wraps a stream the remote opened, whose header `reader` already read. */
  accept(protocol: string, reader: FrameReader, writer: FrameWriter): Channel {
    const channel = new Channel(this, protocol, reader, writer, this.#forget);
    this.#channels.add(channel);
    this.#incoming.set(channel, this.#trackIncoming());
    return channel;
  }

  /** Closes the connection with `code`; the remote observes code and reason. */
  close(code: number = CloseCode.Success, reason = ""): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.#conn.close({ closeCode: code, reason });
    } catch {
      // already closed underneath
    }
  }
}
