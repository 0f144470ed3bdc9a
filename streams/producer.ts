/**
 * The producer handle: send datums to every eligible consumer of a stream.
 *
 * @module
 */
import type { StreamId, TicketValidator } from "@mosaik/transport";
import type { ChannelInfo, ChannelStats, Condition } from "./conditions.ts";
import { ProducerClosedError } from "./errors.ts";
import type { PeerPredicate } from "./peer.ts";
import type { Sink } from "./_sink.ts";
import type { LaggingPolicy } from "./_lagging.ts";

export type { LaggingPolicy } from "./_lagging.ts";

/** Options of {@linkcode Streams.produce}. Only the first producer of a stream on a node configures it. */
export interface ProducerOptions<T> {
  /** Most simultaneous subscriptions. Default unlimited. */
  maxConsumers?: number;
  /**
   * Capacity in datums of each subscriber's queue. Default 1024. `send`
   * waits (and `trySend` throws {@linkcode FullError}) while a subscriber's
   * queue is full and it is not lagging: that is the producer's backpressure.
   */
  bufferSize?: number;
  /**
   * What happens to a lagging subscriber: one that stayed behind (its queue
   * full, not drained below half) for `lagTimeout` while another subscriber
   * kept up, or that stopped reading for ten times `lagTimeout`.
   * `"disconnect"` (default) drops the datum for it and closes it with
   * `StreamTooSlow` (it reconnects, sees the gap, and lags again at once for
   * 30 s if it is still too slow); `"drop"` drops datums for it while its
   * queue is full (it sees the gaps); `"block"` never gives up on anyone:
   * the producer goes at the pace of its slowest consumer. When every
   * subscriber is behind, the producer is simply faster than the network
   * and `send` waits, whatever the policy.
   */
  lagging?: LaggingPolicy;
  /** See `lagging` (ms). Default 500. */
  lagTimeout?: number;
  /** Conditions consumers must meet (AND), over their entry and RTT; re-checked on catalog changes. */
  require?: PeerPredicate | PeerPredicate[];
  /**
   * Ticket validators consumers must pass (all of them), as groups and
   * collections take them: each accepts a consumer holding a valid ticket of
   * its kind in its entry. A subscription ends with `StreamTicketExpired`
   * when the earliest accepted ticket expires; re-checked when the entry
   * changes.
   */
  requireTicket?: TicketValidator | readonly TicketValidator[];
  /** When the producer is online (may send). Default `{ minimum: 1 }`: one connected consumer. */
  onlineWhen?: Condition;
  /** Receives datums that no subscriber took. */
  undelivered?: (datum: T) => void;
  /** Largest batch frame in bytes (small datums are batched up to it). Default 64 KiB. */
  maxBatchBytes?: number;
}

/** Aggregate counters of a producer. */
export interface ProducerStats extends ChannelStats {
  /** Datums accepted by `send`/`trySend` and fanned out. */
  sent: number;
  /** Datums that found no subscriber. */
  undelivered: number;
  /** Subscriptions admitted. */
  accepted: number;
  /** Subscriptions refused (capacity, `require`, tickets). */
  rejected: number;
  /** Subscriptions closed with `StreamTooSlow` because their queue overflowed. */
  lagged: number;
}

let openProducer: <T>(sink: Sink<T>) => Producer<T>;

/**
 * Sends datums of one stream to every eligible consumer. All handles of a
 * stream on a node share one fan-out worker; closing the last one ends
 * every subscription gracefully (code `GracefulShutdown`) and removes the
 * stream from the node's entry.
 *
 * @example
 * ```ts ignore
 * await using producer = network.streams.produce(Prices);
 * await producer.when.subscribed({ minimum: 1 });
 * await producer.send({ sym: "ETH", px: 3000 });
 * ```
 */
export class Producer<T> implements AsyncDisposable {
  readonly #sink: Sink<T>;
  #closed = false;

  private constructor(sink: Sink<T>) {
    this.#sink = sink;
    sink.handles++;
  }

  static {
    openProducer = (sink) => new Producer(sink);
  }

  /** The stream's id. */
  get streamId(): StreamId {
    return this.#sink.id;
  }

  /** Whether the `onlineWhen` condition holds (sending is possible). */
  get online(): boolean {
    return !this.#closed && this.#sink.online;
  }

  /** Sends a datum: waits until online and every subscriber has room (or lags). Errors hand the datum back. */
  send(datum: T): Promise<void> {
    if (this.#closed) return Promise.reject(new ProducerClosedError(datum));
    return this.#sink.send(datum);
  }

  /**
   * Sends a datum now or throws: {@linkcode ProducerOfflineError}, {@linkcode FullError},
   * {@linkcode ProducerClosedError}, {@linkcode DatumEncodeError} or
   * {@linkcode DatumTooLargeError}, each carrying the datum. Success means
   * fanned out to the subscribers' queues, not delivered.
   */
  trySend(datum: T): void {
    if (this.#closed) throw new ProducerClosedError(datum);
    this.#sink.trySend(datum);
  }

  /** The current subscriptions (including ones still connecting). */
  consumers(): ChannelInfo[] {
    return this.#sink.consumers();
  }

  /** Aggregate counters (datums, bytes and drops summed over every subscription, past and current). */
  get stats(): ProducerStats {
    return this.#sink.stats();
  }

  /** Promises about the producer's state; each resolves at once if it already holds. */
  get when(): {
    /** Resolves when the producer is online. */
    online(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when it is offline. */
    offline(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition over connected subscribers holds (default: at least one). */
    subscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition does not hold (default: no connected subscriber). */
    unsubscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
  } {
    const sink = this.#sink;
    return {
      online: (o) => sink.waiter.wait(() => sink.online, o),
      offline: (o) => sink.waiter.wait(() => !sink.online, o),
      subscribed: (c = {}) => sink.subscribed(c, c.signal),
      unsubscribed: (c = {}) => sink.subscribed({ ...c, unmet: !c.unmet }, c.signal),
    };
  }

  /** Closes this handle; the last handle of the stream closes the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (--this.#sink.handles === 0) {
      this.#sink.host.sinkClosed(this.#sink.id);
      await this.#sink.close();
    }
  }

  /** Same as {@linkcode Producer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A new handle on a stream's fan-out worker (private to the package). */
export function createProducer<T>(sink: Sink<T>): Producer<T> {
  return openProducer(sink);
}
