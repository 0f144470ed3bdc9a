// Incoming channels: each stream a remote opens starts with a header frame
// naming its protocol; the router reads it within the header limits and
// hands the channel to that protocol's handler.
import type { Channel } from "./channel.ts";
import type { Connection } from "./connection.ts";
import { deadline, delay } from "./async.ts";
import { DecodeError, TimeoutError } from "./errors.ts";
import type { ResourceManager } from "./limits.ts";
import { CloseCode } from "./vocabulary.ts";
import { FrameReader, FrameWriter } from "./_frames.ts";
import type { FirstStream, IncomingStreams } from "./_handshake.ts";

const MAX_PROTOCOL_NAME = 256;
/** Incoming streams routed between two yields to the event loop. */
const YIELD_EVERY = 32;

/** Handles a channel a remote peer opened for a protocol. */
export type ProtocolHandler = (channel: Channel) => void | Promise<void>;

/** How a protocol's channels are received (see {@linkcode Endpoint.handle}). */
export interface HandleOptions {
  /**
   * The opener sends the first message: a channel stays "opening" (counted
   * in `maxPendingHeaders`, bound by `headerTimeout`) until its first frame
   * starts to arrive, so channels that name the protocol and then stay
   * silent cost no more than those that never name one. Default false.
   */
  openerSpeaksFirst?: boolean;
}

export class Router {
  #handlers = new Map<string, ProtocolHandler>();
  #openerFirst = new Set<string>();
  #resources: ResourceManager;
  #maxFrameSize: number;
  #stats: { unknownProtocol: number };

  constructor(
    resources: ResourceManager,
    maxFrameSize: number,
    stats: { unknownProtocol: number },
  ) {
    this.#resources = resources;
    this.#maxFrameSize = maxFrameSize;
    this.#stats = stats;
  }

  handle(protocol: string, handler: ProtocolHandler, options: HandleOptions = {}): void {
    this.#handlers.set(protocol, handler);
    if (options.openerSpeaksFirst) this.#openerFirst.add(protocol);
    else this.#openerFirst.delete(protocol);
  }

  /**
   * Routes every stream the remote opens on `connection` until it closes
   * (`incoming`: those it opened before its proof checked out, then the
   * rest); `track` keeps each task.
   */
  serve(
    incoming: IncomingStreams,
    connection: Connection,
    track: (task: Promise<unknown>) => void,
  ): Promise<void> {
    const { first, held } = incoming;
    if (first) track(this.route(connection, first));
    for (const stream of held) track(this.route(connection, stream));
    // the loop keeps only the reader: the early streams live as long as their channels
    return this.#serveRest(incoming.reader, incoming.next, connection, track);
  }

  async #serveRest(
    streams: ReadableStreamDefaultReader<Deno.QuicBidirectionalStream>,
    next: IncomingStreams["next"],
    connection: Connection,
    track: (task: Promise<unknown>) => void,
  ): Promise<void> {
    try {
      for (let n = 1;; n++) {
        // the stream is not held in this frame while the next one is awaited
        if (!this.#routeRead(connection, await (next ?? streams.read()), track)) return;
        next = undefined;
        // queued streams come back in microtasks: let timers and I/O run between bursts
        if (n % YIELD_EVERY === 0) await delay(0);
      }
    } catch {
      // connection closed
    } finally {
      streams.releaseLock();
    }
  }

  /** Routes the stream `read` gave; false when there are no more. */
  #routeRead(
    connection: Connection,
    read: ReadableStreamReadResult<Deno.QuicBidirectionalStream>,
    track: (task: Promise<unknown>) => void,
  ): boolean {
    if (read.done) return false;
    connection.touch();
    track(this.route(connection, read.value));
    return true;
  }

  /** Routes `stream`, or the dialer's first stream, read and written already. */
  async route(
    connection: Connection,
    stream: Deno.QuicBidirectionalStream | FirstStream,
  ): Promise<void> {
    const { reader, writer } = "reader" in stream ? stream : {
      reader: new FrameReader(stream.readable, this.#maxFrameSize, this.#resources.reserveFrame),
      writer: new FrameWriter(stream.writable, this.#maxFrameSize),
    };
    const release = this.#resources.reserveHeader();
    if (!release) {
      const channel = connection.accept("", reader, writer);
      return await channel.close(CloseCode.ResourceLimit, "too many channels opening");
    }
    let protocol: string;
    const until = Date.now() + this.#resources.limits.headerTimeout;
    try {
      const header = await deadline(reader.next(MAX_PROTOCOL_NAME), until - Date.now());
      if (!header || header.close) {
        // ended or closed before naming a protocol: end our side at once
        reader.cancel();
        await writer.finish();
        return;
      }
      protocol = new TextDecoder("utf-8", { fatal: true }).decode(header.data);
      if (this.#openerFirst.has(protocol)) {
        await deadline(reader.waitForData(), Math.max(0, until - Date.now()));
      }
    } catch (e) {
      const late = e instanceof TimeoutError;
      if (late) this.#resources.refuse("headerTimeout");
      const channel = connection.accept("", reader, writer);
      await channel.close(
        late ? CloseCode.HandshakeTimeout : CloseCode.ProtocolViolation,
        late ? "no channel header in time" : "bad channel header",
      );
      return;
    } finally {
      release();
    }
    const channel = connection.accept(protocol, reader, writer);
    const handler = this.#handlers.get(protocol);
    if (!handler) {
      this.#stats.unknownProtocol++;
      await channel.close(CloseCode.InvalidProtocol, `unknown protocol ${protocol}`);
      return;
    }
    try {
      await handler(channel);
    } catch (e) {
      const code = e instanceof DecodeError ? CloseCode.ProtocolViolation : CloseCode.Cancelled;
      await channel.close(code, e instanceof Error ? e.message : String(e));
    }
  }
}
