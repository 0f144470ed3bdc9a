/**
 * Short request/response exchanges (catalog sync, ping) on their own
 * channels, both sides bounded in time, and the bookkeeping that lets
 * `close()` end them.
 *
 * @module
 */
import {
  type Channel,
  CloseCode,
  ClosedError,
  deadline,
  type Endpoint,
  type PeerId,
  TimeoutError,
} from "@mosaik/transport";
import { bump, type DiscoveryStats } from "./stats.ts";

/** The open channels and running tasks of discovery's requests. */
export class Requests {
  #endpoint: Endpoint;
  #timeout: number;
  #stats: DiscoveryStats;
  #channels = new Set<Channel>();
  #tasks = new Set<Promise<unknown>>();
  #closed = false;

  /** Requests on `endpoint`, each limited to `timeout` ms. */
  constructor(endpoint: Endpoint, timeout: number, stats: DiscoveryStats) {
    this.#endpoint = endpoint;
    this.#timeout = timeout;
    this.#stats = stats;
  }

  /** Keeps `p` until it settles, so `close()` can wait for it; failures are ignored. */
  track<T>(p: Promise<T>): void {
    this.#tasks.add(p);
    p.catch(() => {}).finally(() => this.#tasks.delete(p));
  }

  /** Keeps `ch` open until `close()` (for long-lived served channels). */
  hold(ch: Channel): () => void {
    this.#channels.add(ch);
    return () => this.#channels.delete(ch);
  }

  /**
   * Opens a channel to `peer` and runs `run` on it; rejects with
   * {@linkcode TimeoutError} after the request timeout.
   */
  async request<T>(
    peer: PeerId,
    addresses: readonly string[],
    protocol: string,
    run: (ch: Channel) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new ClosedError("discovery closed");
    let ch: Channel | undefined;
    const work = (async () => {
      ch = await this.#endpoint.open(peer, addresses, protocol);
      this.#channels.add(ch);
      const result = await run(ch);
      await ch.close();
      return result;
    })();
    try {
      return await deadline(work, this.#timeout).catch((e) => {
        throw e instanceof TimeoutError
          ? new TimeoutError(`${protocol} with ${peer} timed out`)
          : e;
      });
    } finally {
      if (ch) {
        this.#channels.delete(ch);
        ch.close(CloseCode.Cancelled).catch(() => {});
      }
    }
  }

  /**
   * Runs the acceptor side of a request; closes its channel if the remote
   * stalls past the timeout. `serve` learns whether our timer ended it, so
   * it never blames the remote for that.
   */
  async serve(ch: Channel, serve: (timedOut: () => boolean) => Promise<void>): Promise<void> {
    if (this.#closed) return await ch.close(CloseCode.GracefulShutdown);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      bump(this.#stats.dropped, "request-timeout");
      ch.close(CloseCode.Cancelled, "request timed out").catch(() => {});
    }, this.#timeout);
    this.#channels.add(ch);
    try {
      await serve(() => timedOut);
    } finally {
      clearTimeout(timer);
      this.#channels.delete(ch);
      // until both sides end it, the stream holds one of the remote's stream credits
      await ch.close().catch(() => {});
    }
  }

  /** Closes every channel and waits up to `window` ms for the tasks to end. */
  async close(window: number): Promise<void> {
    this.#closed = true;
    for (const ch of this.#channels) ch.close(CloseCode.GracefulShutdown).catch(() => {});
    // Requests still dialing an unreachable peer end when the endpoint closes.
    await deadline(Promise.allSettled([...this.#tasks]), window).catch(() => {});
  }
}
