/**
 * Typed pub/sub between producers and consumers that find each other through
 * discovery: `@mosaik/streams`.
 *
 * - {@linkcode stream} declares a stream (name, codec, schema → id).
 * - {@linkcode Streams.produce} fans datums out to every eligible consumer,
 *   each on its own QUIC channel with its own bounded queue (a slow consumer
 *   never stalls the others), batching small datums into frames.
 * - {@linkcode Streams.consume} subscribes to every eligible producer in the
 *   catalog (or the `limit` lowest-RTT ones), reconnects with backoff and
 *   reports gaps through per-producer sequence numbers.
 *
 * Delivery is at most once, in order per producer. Each datum carries the
 * producer's sequence number (per stream, per producer run), so consumers
 * count what they missed (`stats.gaps`, `stats.missed`) across drops,
 * reconnects and producer restarts. `send` waits while a subscriber's queue
 * is full (backpressure); a subscriber that stays behind for `lagTimeout`
 * while others keep up, or stops reading, gets the lagging policy
 * (`"disconnect"` with `StreamTooSlow`, `"drop"`, or `"block"` = always wait).
 * A consumer with `bufferSize` stops reading while its queue is full, so a
 * slow application pushes back to the producer. Consumers never subscribe to
 * a producer on their own node.
 *
 * Wire protocol `/mosaik/streams/1` on a transport channel: MessagePack
 * `subscribe` → `start` (or a close with a named code), then binary batch
 * frames of datums with sequence numbers, and an end frame before a graceful
 * close (`GracefulShutdown`).
 *
 * Permissions: those of the endpoint (`--unstable-net`, `--allow-net` for its
 * address and its peers').
 *
 * @example Two nodes with a static peer list
 * ```ts
 * import { Endpoint, networkId } from "@mosaik/transport";
 * import { StaticDiscovery, stream, Streams } from "@mosaik/streams";
 *
 * const Prices = stream<{ sym: string; px: number }>("prices", { schema: "price/v1" });
 * const net = networkId("streams-example");
 * await using a = await Endpoint.create({ networkId: net });
 * await using b = await Endpoint.create({ networkId: net });
 * const da = new StaticDiscovery({ peerId: a.peerId, addresses: [a.hostPort] });
 * const db = new StaticDiscovery({ peerId: b.peerId, addresses: [b.hostPort] });
 * StaticDiscovery.link(da, db);
 * await using streamsA = new Streams(a, da);
 * await using streamsB = new Streams(b, db);
 *
 * const producer = streamsA.produce(Prices);
 * const consumer = streamsB.consume(Prices);
 * await producer.when.subscribed();
 * await producer.send({ sym: "ETH", px: 3000 });
 * console.assert((await consumer.recv())?.px === 3000);
 * ```
 *
 * @example On `Network` nodes (gossip discovery)
 * ```ts ignore
 * import { Network } from "@mosaik/network";
 * import { stream } from "@mosaik/streams";
 *
 * const Prices = stream<{ sym: string; px: number }>("prices", { schema: "price/v1" });
 * await using a = await Network.create("my-app", { mdns: false, dht: false });
 * await using b = await Network.create("my-app", {
 *   mdns: false,
 *   dht: false,
 *   bootstrap: [a.local.address],
 * });
 * const producer = a.streams.produce(Prices, { maxConsumers: 8 });
 * await using consumer = b.streams.consume(Prices, { prefer: "latency", limit: 1 });
 * await producer.when.subscribed();
 * await producer.send({ sym: "ETH", px: 3000 });
 * for await (const price of consumer) console.log(price);
 * ```
 *
 * @module
 */
export { Backoff, type BackoffOptions } from "./backoff.ts";
export {
  type ChannelInfo,
  type ChannelState,
  type ChannelStats,
  type Condition,
} from "./conditions.ts";
export { Consumer, type ConsumerOptions, type ConsumerStats } from "./consumer.ts";
export {
  DatumEncodeError,
  DatumTooLargeError,
  FullError,
  ProducerClosedError,
  ProducerOfflineError,
  SendError,
} from "./errors.ts";
export {
  hasTags,
  inRegion,
  inZone,
  type PeerInfo,
  type PeerPredicate,
  rttBelow,
  type StreamsCatalog,
  type StreamsCatalogEvent,
  type StreamsDiscovery,
  type StreamsPeerEntry,
} from "./peer.ts";
export {
  type LaggingPolicy,
  Producer,
  type ProducerOptions,
  type ProducerStats,
} from "./producer.ts";
export { choose, type Preference, SWITCH_MARGIN, SWITCH_RATIO } from "./rank.ts";
export { StaticDiscovery } from "./static.ts";
export { type Codec, codecs, stream, type StreamDef, type StreamOptions } from "./stream.ts";
export { Streams, type StreamsOptions, type StreamsSnapshot } from "./streams.ts";
export type { StreamsChannel, StreamsEndpoint } from "./link.ts";
export { PROTOCOL } from "./_wire.ts";
/** The "closed" error of every mosaik package, which {@linkcode ProducerClosedError} extends. */
export { ClosedError } from "@mosaik/transport";
/** Transport types that appear in this package's API, re-exported for convenience. */
export type {
  Digest,
  MosaikError,
  NetworkId,
  PeerId,
  StreamId,
  Tag,
  Ticket,
  TicketContext,
  TicketValidator,
  TicketVerdict,
} from "@mosaik/transport";
