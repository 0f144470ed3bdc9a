/**
 * Offences and bans: a directly connected peer that sends what no honest
 * node sends (undecodable messages, forged or foreign entries, gossip ids that
 * do not match their payload) is banned after a few offences.
 *
 * Only what the peer did counts: our own failures (a reply too large for a
 * frame, our timer ending a request, a channel we closed) are never offences.
 *
 * @module
 */
import { type Channel, CloseCode, dropOldest, type PeerId } from "@mosaik/transport";
import type { UpsertResult } from "./catalog.ts";
import { discoveryLog } from "./_log.ts";

/** Offences before a ban. */
export const OFFENCE_LIMIT = 3;
const MAX_TRACKED = 4096;

/** Refusals no honest peer causes: honest peers verify entries before forwarding them. */
export const OFFENCES: ReadonlySet<UpsertResult> = new Set<UpsertResult>([
  "bad-signature",
  "undecodable",
  "wrong-network",
  "too-large",
]);

interface Record {
  count: number;
  until: number;
  last: number;
}

/** The offence counters and bans of one node (bounded). */
export class Offences {
  #records = new Map<PeerId, Record>();
  #banDuration: number;
  #onBan: (peer: PeerId) => void;

  /** `onBan` runs once per ban (drop the peer from views, count it). */
  constructor(banDuration: number, onBan: (peer: PeerId) => void) {
    this.#banDuration = banDuration;
    this.#onBan = onBan;
  }

  /**
   * Records an offence of `peer`; after {@linkcode OFFENCE_LIMIT} within one
   * ban duration the peer is banned (never with a ban duration of 0). Returns
   * whether it is banned now.
   */
  offend(peer: PeerId, what: string): boolean {
    if (this.#banDuration <= 0) return false;
    const now = Date.now();
    let o = this.#records.get(peer);
    if (o && o.until > now) return true;
    if (!o || now - o.last > this.#banDuration) o = { count: 0, until: 0, last: now };
    o.last = now;
    this.#records.delete(peer);
    this.#records.set(peer, o);
    dropOldest(this.#records, MAX_TRACKED);
    if (++o.count < OFFENCE_LIMIT) return false;
    o.count = 0;
    o.until = now + this.#banDuration;
    discoveryLog.info(`banned ${peer} for ${this.#banDuration} ms (last offence: ${what})`);
    this.#onBan(peer);
    return true;
  }

  /** Whether `peer` is banned now. */
  banned(peer: PeerId): boolean {
    const o = this.#records.get(peer);
    if (!o || o.until === 0) return false;
    if (o.until > Date.now()) return true;
    this.#records.delete(peer);
    return false;
  }

  /** Closes a channel from a banned peer; returns whether it did. */
  async refuse(ch: Channel): Promise<boolean> {
    if (!this.banned(ch.peerId)) return false;
    await ch.close(CloseCode.ProtocolViolation, "banned");
    return true;
  }
}
