/**
 * {@linkcode Streams}: the streams subsystem of one node.
 *
 * @module
 */
import type { StreamsChannel, StreamsEndpoint } from "./link.ts";
import {
  CloseCode,
  ClosedError,
  deadline,
  DecodeError,
  logger,
  type PeerId,
  type StreamId,
  ticketValidators,
  TimeoutError,
} from "@mosaik/transport";
import type { BackoffOptions } from "./backoff.ts";
import type { ChannelInfo } from "./conditions.ts";
import {
  type Consumer,
  type ConsumerOptions,
  type ConsumerStats,
  createConsumer,
} from "./consumer.ts";
import type { Host } from "./_host.ts";
import type { StreamsCatalogEvent, StreamsDiscovery } from "./peer.ts";
import {
  createProducer,
  type Producer,
  type ProducerOptions,
  type ProducerStats,
} from "./producer.ts";
import { Sink } from "./_sink.ts";
import type { StreamDef } from "./stream.ts";
import {
  type Control,
  controlFromWire,
  controlToWire,
  ITEM_HEADER,
  ping,
  PROTOCOL,
} from "./_wire.ts";

/** Options of {@linkcode Streams}. */
export interface StreamsOptions {
  /** Default reconnect backoff of consumers. */
  backoff?: BackoffOptions;
  /**
   * Largest encoded datum in bytes. Default 4 MiB minus the frame overhead;
   * keep it below the endpoint's maximum frame size.
   */
  maxDatumSize?: number;
}

/** What {@linkcode Streams.snapshot} reports: every producer and consumer of the node. */
export interface StreamsSnapshot {
  /** One entry per stream this node produces. */
  producers: {
    streamId: StreamId;
    name: string;
    online: boolean;
    stats: ProducerStats;
    consumers: ChannelInfo[];
  }[];
  /** One entry per open consumer. */
  consumers: {
    streamId: StreamId;
    name: string;
    online: boolean;
    stats: ConsumerStats;
    producers: ChannelInfo[];
  }[];
}

/** Declaration defaults, then call options; `require` and `requireTicket` add up. */
function merge<O extends Pick<ConsumerOptions, "require" | "requireTicket">>(
  defaults: O | undefined,
  options: O,
): O {
  if (!defaults) return options;
  return {
    ...defaults,
    ...options,
    require: [defaults.require ?? [], options.require ?? []].flat(),
    requireTicket: [
      ...ticketValidators(defaults.requireTicket),
      ...ticketValidators(options.requireTicket),
    ],
  };
}

const log = logger("streams");
const HANDSHAKE_TIMEOUT = 10_000;

/**
 * Typed pub/sub over an endpoint, with producers found through a catalog.
 * `Network` makes one as `network.streams`; standalone, give it an
 * {@linkcode Endpoint} and anything shaped like {@linkcode StreamsDiscovery}
 * (discovery's `Discovery`, or a {@linkcode StaticDiscovery}).
 *
 * @example
 * ```ts ignore
 * import { stream, Streams } from "@mosaik/streams";
 * const Prices = stream<{ sym: string; px: number }>("prices");
 * const streams = new Streams(endpoint, discovery);
 * const producer = streams.produce(Prices, { maxConsumers: 8 });
 * await producer.when.subscribed();
 * await producer.send({ sym: "ETH", px: 3000 });
 * ```
 */
export class Streams implements AsyncDisposable {
  /** The endpoint subscriptions run on. */
  readonly endpoint: StreamsEndpoint;
  /** Where producers are found. */
  readonly discovery: StreamsDiscovery;
  readonly #sinks = new Map<string, Sink<unknown>>();
  /** Open consumers, each with the hook that re-evaluates its producers. */
  readonly #consumers = new Map<Consumer<unknown>, () => void>();
  /** Open consumers per stream: the entry lists a stream while one is open. */
  readonly #consumed = new Map<StreamId, number>();
  readonly #rtts = new Map<PeerId, number>();
  readonly #host: Host;
  readonly #unsubscribe: () => void;
  #closed = false;

  /** Serves the streams protocol on `endpoint` and follows `discovery`'s catalog. */
  constructor(
    endpoint: StreamsEndpoint,
    discovery: StreamsDiscovery,
    options: StreamsOptions = {},
  ) {
    this.endpoint = endpoint;
    this.discovery = discovery;
    const rtts = this.#rtts;
    this.#host = {
      endpoint,
      discovery,
      backoff: options.backoff ?? {},
      maxDatumSize: options.maxDatumSize ?? 4 * 1024 * 1024 - 64 - ITEM_HEADER,
      rtt: (peer) => discovery.rtt?.(peer)?.ms ?? rtts.get(peer),
      recordRtt: (peer, ms) => {
        const old = rtts.get(peer);
        rtts.set(peer, old === undefined ? ms : old * 7 / 8 + ms / 8);
        discovery.recordRtt?.(peer, ms);
      },
      probe: (peer, addresses) => this.#probe(peer, addresses),
      sinkClosed: (id) => {
        this.#sinks.delete(id);
        if (!this.#closed) discovery.local.removeStream(id as StreamId);
      },
      consumerClosed: (c) => {
        const consumer = c as Consumer<unknown>;
        if (!this.#consumers.delete(consumer)) return;
        const left = (this.#consumed.get(consumer.streamId) ?? 1) - 1;
        if (left > 0) return void this.#consumed.set(consumer.streamId, left);
        this.#consumed.delete(consumer.streamId);
        if (!this.#closed) discovery.local.removeConsumedStream?.(consumer.streamId);
      },
    };
    // the consumer speaks first (a ping or its subscription)
    endpoint.handle(PROTOCOL, (channel) => this.#accept(channel), { openerSpeaksFirst: true });
    this.#unsubscribe = discovery.catalog.subscribe((e) => this.#onCatalog(e));
  }

  /**
   * A producer of `def`. The first call on a node starts the stream's
   * fan-out worker with `options` and advertises the stream in the node's
   * entry; later calls return more handles to the same worker (their
   * options are ignored).
   */
  produce<T>(def: StreamDef<T>, overrides: ProducerOptions<T> = {}): Producer<T> {
    if (this.#closed) throw new ClosedError("streams closed");
    let sink = this.#sinks.get(def.id) as Sink<T> | undefined;
    if (!sink) {
      const options = merge(def.producer, overrides);
      sink = new Sink<T>(this.#host, def, {
        maxConsumers: options.maxConsumers ?? Infinity,
        bufferSize: options.bufferSize ?? 1024,
        lagging: options.lagging ?? "disconnect",
        require: [options.require ?? []].flat(),
        requireTicket: ticketValidators(options.requireTicket),
        onlineWhen: options.onlineWhen ?? { minimum: 1 },
        undelivered: options.undelivered,
        maxBatchBytes: options.maxBatchBytes ?? 64 * 1024,
        lagTimeout: options.lagTimeout ?? 500,
      });
      this.#sinks.set(def.id, sink as Sink<unknown>);
      this.discovery.local.addStream(def.id);
    }
    return createProducer(sink);
  }

  /** A new, independent consumer of `def`; it subscribes to every eligible producer. */
  consume<T>(def: StreamDef<T>, options: ConsumerOptions = {}): Consumer<T> {
    if (this.#closed) throw new ClosedError("streams closed");
    const { consumer, evaluate } = createConsumer(this.#host, def, merge(def.consumer, options));
    this.#consumers.set(consumer as Consumer<unknown>, evaluate);
    const consumers = (this.#consumed.get(def.id) ?? 0) + 1;
    this.#consumed.set(def.id, consumers);
    if (consumers === 1) this.discovery.local.addConsumedStream?.(def.id);
    return consumer;
  }

  /** Every producer and consumer of this node with its state and counters (for diagnostics). */
  snapshot(): StreamsSnapshot {
    return {
      producers: [...this.#sinks.values()].map((sink) => ({
        streamId: sink.id,
        name: sink.def.name,
        online: sink.online,
        stats: sink.stats(),
        consumers: sink.consumers(),
      })),
      consumers: [...this.#consumers.keys()].map((c) => ({
        streamId: c.streamId,
        name: c.name,
        online: c.online,
        stats: c.stats,
        producers: c.producers(),
      })),
    };
  }

  /** The round-trip time to a peer in ms, as streams know it. */
  rtt(peer: PeerId): number | undefined {
    return this.#host.rtt(peer);
  }

  #onCatalog(event: StreamsCatalogEvent): void {
    for (const sink of this.#sinks.values()) {
      sink.peerChanged(event.type, event.entry).catch((e) =>
        log.error(`re-checking consumer ${event.entry.peerId} failed`, e)
      );
    }
    for (const evaluate of this.#consumers.values()) evaluate();
  }

  async #accept(channel: StreamsChannel): Promise<void> {
    try {
      const c = await deadline(this.#subscription(channel), HANDSHAKE_TIMEOUT);
      if (c === undefined) return void await channel.close(); // a probe that is done
      if (c.network !== this.endpoint.networkId) {
        return void await channel.close(CloseCode.DifferentNetwork, "different network");
      }
      const sink = this.#sinks.get(c.stream);
      if (!sink || this.#closed) {
        return void await channel.close(CloseCode.StreamNotFound, "stream not found");
      }
      const entry = this.discovery.catalog.get(channel.peerId);
      if (!entry) return void await channel.close(CloseCode.UnknownPeer, "unknown peer");
      await sink.admit(channel, entry);
    } catch (e) {
      const code = e instanceof DecodeError
        ? CloseCode.ProtocolViolation
        : e instanceof TimeoutError
        ? CloseCode.UnexpectedClose
        : undefined;
      if (code !== undefined) await channel.close(code, String(e)).catch(() => {});
    }
  }

  /** Answers pings until the consumer's `subscribe`; `undefined` when it finishes first. */
  async #subscription(
    channel: StreamsChannel,
  ): Promise<Extract<Control, { t: "subscribe" }> | undefined> {
    for (;;) {
      const m = await channel.recv();
      if (m === undefined) return undefined;
      const c = controlFromWire(m);
      if (c.t === "subscribe") return c;
      if (c.t !== "ping") throw new DecodeError(`unexpected ${c.t}`);
      await channel.send(controlToWire({ t: "pong", n: c.n }));
    }
  }

  async #probe(peer: PeerId, addresses: readonly string[]): Promise<number> {
    const channel = await this.endpoint.open(peer, [...addresses], PROTOCOL);
    try {
      const rtt = await ping(channel);
      this.#host.recordRtt(peer, rtt);
      return rtt;
    } finally {
      await channel.close(CloseCode.Success, "probe done").catch(() => {});
    }
  }

  /** Closes every producer (consumers see `GracefulShutdown`) and consumer, and stops following the catalog. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    const sinks = [...this.#sinks.values()];
    this.#sinks.clear();
    for (const sink of sinks) {
      try {
        this.discovery.local.removeStream(sink.id);
      } catch {
        // discovery already closed: the node is leaving anyway
      }
    }
    await Promise.all([
      ...sinks.map((s) => s.close()),
      ...[...this.#consumers.keys()].map((c) => c.close()),
    ]);
  }

  /** Same as {@linkcode Streams.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
