/**
 * Hole punching over a relayed connection (after libp2p's DCUtR and iroh's
 * disco): the side that dialed through the relay sends its direct candidate
 * addresses on the relayed connection, the other answers with its own, and
 * both dial each other's at once from their one endpoint socket. Each
 * outgoing packet opens its own NAT's mapping for the other's address, so
 * behind endpoint-independent NATs the retransmitted handshakes pass. On
 * success new channels take the direct connection (`endpoint.connection`
 * prefers it) and the relayed one closes once idle; on failure it stays
 * relayed and tries again with backoff.
 *
 * @module
 */
import { deadline, delay } from "./async.ts";
import type { Channel } from "./channel.ts";
import type { Connection } from "./connection.ts";
import type { Endpoint } from "./endpoint.ts";
import { DecodeError } from "./errors.ts";
import type { PeerId } from "./ids.ts";
import { logger } from "./log.ts";
import { isRelayAddress } from "./relay.ts";
import { CloseCode } from "./vocabulary.ts";

/** Protocol name of hole-punching channels. */
export const PUNCH_PROTOCOL = "/mosaik/punch/1";
const log = logger("relay");
const TRIES = 3;
const MAX_CANDIDATES = 16;

/** Counters of {@linkcode holePunching}. */
export interface PunchStats {
  /** Punches tried (initiated or answered). */
  tried: number;
  /** Punches that gave a direct connection. */
  direct: number;
}

function parseCandidates(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_CANDIDATES) {
    throw new DecodeError("punch: expected a list of addresses");
  }
  return value.filter((a): a is string =>
    typeof a === "string" && a.length <= 64 && !isRelayAddress(a)
  );
}

/**
 * Punches holes on every relayed connection of `endpoint`; `candidates()`
 * gives this node's direct addresses (interface and observed ones). Returns
 * its counters.
 *
 * @example
 * ```ts ignore
 * holePunching(endpoint, () => discovery.local.entry.addresses);
 * ```
 */
export function holePunching(endpoint: Endpoint, candidates: () => string[]): PunchStats {
  const stats: PunchStats = { tried: 0, direct: 0 };
  const ours = () => candidates().filter((a) => !isRelayAddress(a)).slice(0, MAX_CANDIDATES);

  async function dialDirect(peer: PeerId, theirs: string[]): Promise<boolean> {
    stats.tried++;
    try {
      const c = await endpoint.connect(peer, theirs, { direct: true });
      if (c.path === "direct") stats.direct++;
      return c.path === "direct";
    } catch {
      return false;
    }
  }

  async function closeWhenIdle(relayed: Connection, signal: AbortSignal): Promise<void> {
    while (relayed.channelCount > 0) await delay(1_000, { signal });
    relayed.close(CloseCode.Success, "direct path found");
  }

  async function initiate(relayed: Connection): Promise<void> {
    const stop = new AbortController();
    relayed.closed.then(() => stop.abort());
    for (let i = 0; i < TRIES && !relayed.isClosed; i++) {
      let ch: Channel | undefined;
      try {
        ch = await relayed.open(PUNCH_PROTOCOL);
        await ch.send(ours());
        const theirs = parseCandidates(await deadline(ch.recv(), 5_000));
        await ch.close();
        if (await dialDirect(relayed.peerId, theirs)) {
          return await closeWhenIdle(relayed, stop.signal);
        }
      } catch (e) {
        await ch?.close(CloseCode.Cancelled).catch(() => {});
        log.debug(`punch to ${relayed.peerId} failed`, e);
      }
      await delay(2_000 * 2 ** i, { signal: stop.signal });
    }
  }

  endpoint.handle(PUNCH_PROTOCOL, async (ch) => {
    try {
      const theirs = parseCandidates(await deadline(ch.recv(), 5_000));
      await ch.send(ours());
      await dialDirect(ch.peerId, theirs); // at the same time as the initiator
    } finally {
      await ch.close().catch(() => {});
    }
  }, { openerSpeaksFirst: true }); // the initiator sends its candidates first
  endpoint.onConnection((c) => {
    if (c.path === "relayed" && c.outbound) initiate(c).catch(() => {});
  });
  return stats;
}
