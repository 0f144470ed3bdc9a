/**
 * The consumer handle: receive the datums of a stream from every eligible
 * producer in the catalog.
 *
 * @module
 */
import {
  ClosedError,
  type StreamId,
  type TicketValidator,
  ticketValidators,
  Waiter,
} from "@mosaik/transport";
import type { BackoffOptions } from "./backoff.ts";
import {
  type ChannelInfo,
  type ChannelStats,
  type Condition,
  conditionMet,
  emptyStats,
} from "./conditions.ts";
import type { Host } from "./_host.ts";
import { Inbox } from "./_inbox.ts";
import type { PeerPredicate } from "./peer.ts";
import type { Preference } from "./rank.ts";
import { Selection } from "./_selection.ts";
import type { StreamDef } from "./stream.ts";

/** Options of {@linkcode Streams.consume}. */
export interface ConsumerOptions {
  /** Conditions producers must meet (AND), over their latest entry and RTT; re-checked on catalog changes. */
  require?: PeerPredicate | PeerPredicate[];
  /**
   * Ticket validators producers must pass (all of them), as groups and
   * collections take them; the consumer leaves a producer when its ticket
   * expires.
   */
  requireTicket?: TicketValidator | readonly TicketValidator[];
  /** When the consumer counts as online. Default `{ minimum: 0 }`: at once. */
  onlineWhen?: Condition;
  /** Reconnect backoff per producer. Default: the `Streams` default (500 ms, ×1.5, ±50 %, ≤ 60 s). */
  backoff?: BackoffOptions;
  /**
   * How to choose among eligible producers: `"any"` (default, catalog order),
   * `"latency"` (lowest RTT, measured or predicted, first), `"region"` (our
   * region, zone, nearest location, then RTT) or a comparator. Together with
   * `limit` this picks the k best producers, fails over to the next one when
   * one goes away, and re-ranks every 2 s as RTTs change, moving only to a
   * clearly better producer (see `SWITCH_RATIO`).
   */
  prefer?: Preference;
  /**
   * After how long without any connected producer the consumer logs one
   * warning (through the `streams` logger) saying what it saw: nobody
   * producing the stream (often a name or schema that differs between the
   * two sides), producers failing `require`/`requireTicket`, or producers
   * that do not accept it. Ms; default 10 000; `Infinity` never warns.
   */
  noProducerWarning?: number;
  /** Subscribe to at most this many producers at once. Default unlimited. */
  limit?: number;
  /**
   * Capacity of the receive queue in datums. When set, the consumer stops
   * reading from its producers while the queue is full, so a slow
   * application pushes back through QUIC flow control to the producer (whose
   * lagging policy then applies). Default: unbounded (never pushes back).
   */
  bufferSize?: number;
}

/**
 * Aggregate counters of a consumer, cumulative over every producer it used;
 * `queued` counts datums received and not yet taken by the application.
 */
export type ConsumerStats = ChannelStats;

let openConsumer: <T>(
  host: Host,
  def: StreamDef<T>,
  options: ConsumerOptions,
) => { consumer: Consumer<T>; evaluate: () => void };

/**
 * Receives one stream from every eligible producer (fan-in, in arrival
 * order; per producer in send order). Iterate it, or call `recv`.
 *
 * @example
 * ```ts ignore
 * await using consumer = network.streams.consume(Prices);
 * for await (const price of consumer) console.log(price);
 * ```
 */
export class Consumer<T> implements AsyncIterable<T>, AsyncDisposable {
  readonly #host: Host;
  readonly #def: StreamDef<T>;
  readonly #onlineWhen: Condition;
  readonly #inbox: Inbox<T>;
  readonly #selection: Selection<T>;
  readonly #waiter = new Waiter();
  readonly #stats = emptyStats();
  #online = false;
  #closed = false;

  private constructor(host: Host, def: StreamDef<T>, options: ConsumerOptions) {
    this.#host = host;
    this.#def = def;
    this.#onlineWhen = options.onlineWhen ?? { minimum: 0 };
    this.#inbox = new Inbox<T>(options.bufferSize);
    this.#selection = new Selection<T>(
      host,
      def,
      {
        require: [options.require ?? []].flat(),
        tickets: ticketValidators(options.requireTicket),
        prefer: options.prefer ?? "any",
        limit: options.limit,
        backoff: options.backoff ?? host.backoff,
        noProducerWarning: options.noProducerWarning ?? 10_000,
      },
      this.#inbox,
      this.#stats,
      () => this.#changed(),
    );
    this.#online = conditionMet(this.#onlineWhen, this.#subscriptions());
    this.#selection.evaluate();
  }

  static {
    openConsumer = (host, def, options) => {
      const consumer = new Consumer(host, def, options);
      return { consumer, evaluate: () => consumer.#selection.evaluate() };
    };
  }

  /** The stream's id. */
  get streamId(): StreamId {
    return this.#def.id;
  }

  /** The stream's declared name. */
  get name(): string {
    return this.#def.name;
  }

  /** Whether the `onlineWhen` condition holds. */
  get online(): boolean {
    return this.#online;
  }

  /** Whether {@linkcode Consumer.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next datum; `undefined` once the consumer is closed and drained.
   * With `signal`, stops waiting when it aborts (rejects with its reason).
   */
  recv(options?: { signal?: AbortSignal }): Promise<T | undefined> {
    return this.#inbox.recv(options?.signal);
  }

  /** The next datum if one is queued, else `undefined`; throws `ClosedError` once closed and drained. */
  tryRecv(): T | undefined {
    return this.#inbox.tryRecv();
  }

  /** Iterates datums until the consumer is closed (leaving the loop early does not close it). */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const queued = this.#inbox.queued > 0;
      const v = await this.#inbox.recv();
      if (!queued && v === undefined && this.#closed) return;
      yield v as T;
    }
  }

  /** The producers this consumer is subscribed to (including ones reconnecting). */
  producers(): ChannelInfo[] {
    const self = this.#host.endpoint.peerId;
    return [...this.#subscriptions()].map((s) => ({
      streamId: this.#def.id,
      producerId: s.peer.peerId,
      consumerId: self,
      peer: s.peer,
      state: s.state,
      stats: { ...s.stats },
    }));
  }

  /** Aggregate counters. */
  get stats(): ConsumerStats {
    return { ...this.#stats, queued: this.#inbox.queued };
  }

  /** Promises about the consumer's state; each resolves at once if it already holds. */
  get when(): {
    /** Resolves when the consumer is online. */
    online(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when it is offline. */
    offline(options?: { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition over connected producers holds (default: at least one). */
    subscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
    /** Resolves when the condition does not hold (default: no connected producer). */
    unsubscribed(condition?: Condition & { signal?: AbortSignal }): Promise<void>;
  } {
    const met = (c: Condition) => () => conditionMet(c, this.#subscriptions());
    return {
      online: (o) => this.#waiter.wait(() => this.#online, o),
      offline: (o) => this.#waiter.wait(() => !this.#online, o),
      subscribed: (c = {}) => this.#waiter.wait(met(c), c),
      unsubscribed: (c = {}) => this.#waiter.wait(met({ ...c, unmet: !c.unmet }), c),
    };
  }

  #subscriptions() {
    return this.#selection.subscriptions.values();
  }

  #changed(): void {
    this.#online = !this.#closed && conditionMet(this.#onlineWhen, this.#subscriptions());
    this.#waiter.notify();
  }

  /** Unsubscribes from every producer (they see `Cancelled`) and ends iteration. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopping = this.#selection.close();
    this.#inbox.close();
    this.#waiter.close(new ClosedError("the consumer is closed"));
    this.#host.consumerClosed(this);
    await stopping;
  }

  /** Same as {@linkcode Consumer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Makes a consumer (private to the package) and the hook that re-evaluates its producers. */
export function createConsumer<T>(
  host: Host,
  def: StreamDef<T>,
  options: ConsumerOptions,
): { consumer: Consumer<T>; evaluate: () => void } {
  return openConsumer(host, def, options);
}
