/**
 * Smoothed round-trip time per peer, as RFC 6298 §2 computes SRTT and
 * RTTVAR: the first sample sets SRTT = R and RTTVAR = R/2; later ones
 * RTTVAR = ¾·RTTVAR + ¼·|SRTT − R| and SRTT = ⅞·SRTT + ⅛·R.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";

/** SRTT and RTTVAR of one peer, in ms. */
export interface RttSample {
  /** Smoothed round-trip time. */
  srtt: number;
  /** Round-trip time variation. */
  rttvar: number;
}

/** Tracks smoothed RTTs of many peers. */
export class RttEstimator {
  #peers = new Map<PeerId, RttSample>();

  /** Records a measured round trip of `ms` to `peer`. Ignores non-finite or negative samples. */
  record(peer: PeerId, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const s = this.#peers.get(peer);
    if (!s) {
      this.#peers.set(peer, { srtt: ms, rttvar: ms / 2 });
      return;
    }
    s.rttvar = 0.75 * s.rttvar + 0.25 * Math.abs(s.srtt - ms);
    s.srtt = 0.875 * s.srtt + 0.125 * ms;
  }

  /** The smoothed RTT of `peer`, if measured. */
  srtt(peer: PeerId): number | undefined {
    return this.#peers.get(peer)?.srtt;
  }

  /** SRTT and RTTVAR of `peer`, if measured. */
  get(peer: PeerId): RttSample | undefined {
    const s = this.#peers.get(peer);
    return s && { ...s };
  }

  /** Forgets `peer`. */
  forget(peer: PeerId): void {
    this.#peers.delete(peer);
  }
}
