/**
 * Resource limits of an {@linkcode Endpoint}, in one place. Modelled on the
 * scopes of libp2p's resource manager: the endpoint as a whole (connections,
 * handshakes and channel headers in flight), each peer (its connections) and
 * each connection (the channels its remote may have open). Whatever a remote
 * can make this node hold is counted here before it is held, and refused
 * once its limit is reached; every refusal is counted by limit name.
 *
 * @module
 */
import type { PeerId } from "./ids.ts";

/** The limits, each with its default. */
export interface ResourceLimits {
  /** Authenticated connections open at once, both directions. Default 256. */
  maxConnections: number;
  /** Authenticated connections open at once to one peer. Default 4. */
  maxConnectionsPerPeer: number;
  /**
   * Channels a remote may have open at once on one connection (the QUIC
   * stream credit we grant; an opener waits for a free one). Default 64:
   * eight connections' credit then fits in `maxIncomingChannels`, so a
   * flood of channels waits for credit instead of being opened, refused and
   * opened again (each opened stream costs the receiver ~20 KiB of garbage,
   * and at 128 the churn of 2,000 silent channels grew a node by 70 MiB).
   */
  maxStreamsPerConnection: number;
  /**
   * Channels remotes opened that are open at once, over all connections;
   * more are closed at once with `ResourceLimit`. An idle channel costs
   * about 45 KiB (QUIC state, buffers, handlers). Default 512.
   */
  maxIncomingChannels: number;
  /**
   * Incoming connections whose identity handshake is under way; more are
   * refused before TLS. Each has `handshakeTimeout` to finish. Default 128.
   */
  maxPendingHandshakes: number;
  /**
   * Incoming channels, over all connections, whose protocol header has not
   * arrived; more are closed at once with `ResourceLimit`. Default 128.
   */
  maxPendingHeaders: number;
  /** Milliseconds an incoming channel has to send its protocol header. Default 2 000. */
  headerTimeout: number;
  /**
   * Bytes of large frames (over 64 KiB) being received at once, over all
   * channels; a frame that does not fit closes its channel with
   * `ResourceLimit`. Smaller frames are bounded by the channel count.
   * Default 32 MiB.
   */
  maxPartialFrameBytes: number;
}

/** The defaults of {@linkcode ResourceLimits}. */
export const DEFAULT_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  maxConnections: 256,
  maxConnectionsPerPeer: 4,
  maxStreamsPerConnection: 64,
  maxIncomingChannels: 512,
  maxPendingHandshakes: 128,
  maxPendingHeaders: 128,
  headerTimeout: 2_000,
  maxPartialFrameBytes: 32 << 20,
});

/** What an endpoint holds now, next to what it refused so far. */
export interface ResourceUsage {
  /** Authenticated connections open. */
  connections: number;
  /** Incoming connections in their identity handshake. */
  pendingHandshakes: number;
  /** Incoming channels waiting for their protocol header. */
  pendingHeaders: number;
  /** Bytes of large frames being received. */
  partialFrameBytes: number;
  /** Channels open on every connection, both directions. */
  channels: number;
  /** Of those, the channels remotes opened. */
  incomingChannels: number;
  /**
   * Refusals by limit: `connections`, `connectionsPerPeer`,
   * `pendingHandshakes`, `incomingChannels`, `pendingHeaders`,
   * `headerTimeout`, `partialFrameBytes`.
   */
  refused: Record<string, number>;
}

/** Releases what a reservation holds; calling it again does nothing. */
export type Release = () => void;

/**
 * @internal The counts behind {@linkcode ResourceLimits}: `reserve*` either
 * takes a slot and returns its release, or counts a refusal and returns
 * `undefined`.
 */
export class ResourceManager {
  readonly limits: Readonly<ResourceLimits>;
  #connections = 0;
  #perPeer = new Map<PeerId, number>();
  #pendingHandshakes = 0;
  #pendingHeaders = 0;
  #incomingChannels = 0;
  #partialFrameBytes = 0;
  #refused: Record<string, number> = {};

  constructor(limits: Partial<ResourceLimits> = {}) {
    const merged = { ...DEFAULT_LIMITS };
    for (const [k, v] of Object.entries(limits) as [keyof ResourceLimits, number | undefined][]) {
      if (v === undefined) continue;
      if (!(v >= 1)) throw new RangeError(`limits.${k} must be at least 1, got ${v}`);
      merged[k] = v;
    }
    this.limits = Object.freeze(merged);
  }

  /** Counts a refusal under `limit`. */
  refuse(limit: string): void {
    this.#refused[limit] = (this.#refused[limit] ?? 0) + 1;
  }

  /** A slot for an incoming handshake; also refused when connections are at their limit. */
  reserveHandshake(): Release | undefined {
    if (this.#pendingHandshakes >= this.limits.maxPendingHandshakes) {
      return void this.refuse("pendingHandshakes");
    }
    if (this.#connections + this.#pendingHandshakes >= this.limits.maxConnections) {
      return void this.refuse("connections");
    }
    this.#pendingHandshakes++;
    return once(() => this.#pendingHandshakes--);
  }

  /** A slot for an authenticated connection to `peer`. */
  reserveConnection(peer: PeerId): Release | undefined {
    if (this.#connections >= this.limits.maxConnections) return void this.refuse("connections");
    const n = this.#perPeer.get(peer) ?? 0;
    if (n >= this.limits.maxConnectionsPerPeer) return void this.refuse("connectionsPerPeer");
    this.#connections++;
    this.#perPeer.set(peer, n + 1);
    return once(() => {
      this.#connections--;
      const left = this.#perPeer.get(peer)! - 1;
      if (left === 0) this.#perPeer.delete(peer);
      else this.#perPeer.set(peer, left);
    });
  }

  /** A slot for an incoming channel waiting for its header. */
  reserveHeader(): Release | undefined {
    if (this.#incomingChannels >= this.limits.maxIncomingChannels) {
      return void this.refuse("incomingChannels");
    }
    if (this.#pendingHeaders >= this.limits.maxPendingHeaders) {
      return void this.refuse("pendingHeaders");
    }
    this.#pendingHeaders++;
    return once(() => this.#pendingHeaders--);
  }

  /** Counts an incoming channel as open until the release (a connection calls it). */
  trackIncoming = (): Release => {
    this.#incomingChannels++;
    return once(() => this.#incomingChannels--);
  };

  /** Room for a large frame of `bytes` being received (a `ReserveBytes`). */
  reserveFrame = (bytes: number): Release | undefined => {
    if (this.#partialFrameBytes + bytes > this.limits.maxPartialFrameBytes) {
      return void this.refuse("partialFrameBytes");
    }
    this.#partialFrameBytes += bytes;
    return once(() => this.#partialFrameBytes -= bytes);
  };

  /** The current counts and refusals; `channels` is counted by the connections. */
  usage(channels: number): ResourceUsage {
    return {
      connections: this.#connections,
      pendingHandshakes: this.#pendingHandshakes,
      pendingHeaders: this.#pendingHeaders,
      partialFrameBytes: this.#partialFrameBytes,
      channels,
      incomingChannels: this.#incomingChannels,
      refused: { ...this.#refused },
    };
  }
}

function once(fn: () => void): Release {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
