/**
 * What producers and consumers need from the {@linkcode Streams} that made
 * them (private).
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import type { StreamsEndpoint } from "./link.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { StreamsDiscovery } from "./peer.ts";

/** Shared node-level state of one `Streams`. */
export interface Host {
  readonly endpoint: StreamsEndpoint;
  readonly discovery: StreamsDiscovery;
  readonly backoff: BackoffOptions;
  /** Largest datum payload a batch frame may carry. */
  readonly maxDatumSize: number;
  /** Known RTT to a peer in ms (discovery's, else our own probes). */
  rtt(peer: PeerId): number | undefined;
  /** Adds an RTT sample of our own. */
  recordRtt(peer: PeerId, ms: number): void;
  /** Measures the RTT to a peer with a ping on the streams protocol. */
  probe(peer: PeerId, addresses: readonly string[]): Promise<number>;
  /** Called when the last handle of a producer closed. */
  sinkClosed(id: string): void;
  /** Called when a consumer closed. */
  consumerClosed(consumer: unknown): void;
}
