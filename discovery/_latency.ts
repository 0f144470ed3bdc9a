/**
 * What a node knows about latency: smoothed RTTs it measured (RFC 6298) and
 * its Vivaldi network coordinate, which predicts RTTs it never measured.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import { RttEstimator } from "./_rtt.ts";
import { type Coordinate, Vivaldi, VIVALDI_DEFAULTS, type VivaldiConfig } from "./vivaldi.ts";

/** A round-trip time to a peer: measured by a ping or predicted from network coordinates. */
export interface PeerRtt {
  /** Round-trip time in ms. */
  readonly ms: number;
  /** `"measured"` (smoothed RTT of our samples) or `"predicted"` (from both coordinates). */
  readonly source: "measured" | "predicted";
}

/** Measured RTTs and the network coordinate of one node. */
export class Latency {
  #rtt = new RttEstimator();
  #vivaldi: Vivaldi;
  #errorMax: number;

  /** Latency with the given coordinate tuning. */
  constructor(config: Partial<VivaldiConfig> = {}) {
    this.#vivaldi = new Vivaldi(config);
    this.#errorMax = config.errorMax ?? VIVALDI_DEFAULTS.errorMax;
  }

  /** This node's network coordinate. */
  get coordinate(): Coordinate {
    return this.#vivaldi.coordinate;
  }

  /** Records a sample; with the peer's coordinate, it also moves ours. */
  record(peer: PeerId, ms: number, coordinate: Coordinate | undefined): void {
    this.#rtt.record(peer, ms);
    if (coordinate) this.#vivaldi.update(peer, coordinate, ms);
  }

  /**
   * The RTT to `peer`: measured when we have samples, else predicted from
   * `theirs` once both coordinates took samples, else undefined.
   */
  rtt(peer: PeerId, theirs: Coordinate | undefined): PeerRtt | undefined {
    const measured = this.#rtt.srtt(peer);
    if (measured !== undefined) return { ms: measured, source: "measured" };
    if (!theirs || !this.#settled(theirs) || !this.#settled(this.coordinate)) return undefined;
    const ms = this.#vivaldi.predict(theirs);
    return ms === undefined ? undefined : { ms, source: "predicted" };
  }

  /** Forgets a peer that left the catalog. */
  forget(peer: PeerId): void {
    this.#rtt.forget(peer);
    this.#vivaldi.forget(peer);
  }

  /** Whether a coordinate took at least one sample (a fresh one predicts nothing). */
  #settled(c: Coordinate): boolean {
    return c.error < this.#errorMax;
  }
}
