/**
 * The slice of `@mosaik/transport` streams run on. `Endpoint` and `Channel`
 * satisfy these interfaces structurally.
 *
 * @module
 */
import type { NetworkId, PeerId } from "@mosaik/transport";

/** One framed, ordered, reliable bidirectional pipe to a peer (a transport `Channel`). */
export interface StreamsChannel {
  /** The authenticated remote peer. */
  readonly peerId: PeerId;
  /** Sends a MessagePack message. */
  send(message: unknown): Promise<void>;
  /**
   * Sends one raw frame, given whole or as parts to concatenate. Batch frames
   * are lent (transport's `frameBuffer`, given back with `releaseFrame`):
   * transport's `Channel` holds them until QUIC took their bytes; another
   * implementation must copy what it keeps before `sendBytes` returns.
   */
  sendBytes(bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Resolves when everything sent so far was handed to QUIC. */
  flush(): Promise<void>;
  /** The next message; `undefined` when the remote finished; throws `ChannelClosedError` on a close code. */
  recv<T = unknown>(): Promise<T | undefined>;
  /**
   * The next raw frame, with the same end and error rules as `recv`; with
   * `reuse`, valid only until the next receive (its memory may be reused).
   */
  recvBytes(options?: { reuse?: boolean }): Promise<Uint8Array | undefined>;
  /** Closes with a code the remote observes. */
  close(code?: number, reason?: string): Promise<void>;
}

/** A node's endpoint (a transport `Endpoint`). */
export interface StreamsEndpoint {
  /** This node. */
  readonly peerId: PeerId;
  /** The network it belongs to. */
  readonly networkId: NetworkId;
  /** Serves incoming channels of a protocol (`openerSpeaksFirst`: see the transport's `HandleOptions`). */
  handle(
    protocol: string,
    handler: (channel: StreamsChannel) => void | Promise<void>,
    options?: { openerSpeaksFirst?: boolean },
  ): void;
  /** Connects (or reuses the connection) and opens a channel; `signal` stops waiting. */
  open(
    peer: PeerId,
    addresses: readonly string[],
    protocol: string,
    options?: { signal?: AbortSignal },
  ): Promise<StreamsChannel>;
}
