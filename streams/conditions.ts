/**
 * Conditions over a producer's or consumer's subscriptions: how many
 * connected peers, with which tags. They decide `onlineWhen` and the
 * promises of `when` (transport's `Waiter` re-checks them on every change).
 *
 * @module
 */
import type { PeerId, StreamId, Tag } from "@mosaik/transport";
import { allPass, type PeerInfo, toTags } from "./peer.ts";

/**
 * A condition over the subscriptions in state `"connected"`: at least
 * `minimum` of them (default 1) whose remote peer carries all `tags` and
 * passes `where`; `unmet: true` inverts it.
 *
 * @example
 * ```ts ignore
 * // online once two connected consumers carry the tag "trusted"
 * streams.produce(Prices, { onlineWhen: { minimum: 2, tags: ["trusted"] } });
 * ```
 */
export interface Condition {
  /** Smallest number of matching connected subscriptions. Default 1. */
  minimum?: number;
  /** Tags (or tag names) the remote peer must carry. */
  tags?: readonly (Tag | string)[];
  /** Extra filter over the remote peer. */
  where?: (peer: PeerInfo) => boolean;
  /** Inverts the condition. */
  unmet?: boolean;
}

/** Where a subscription is in its life. */
export type ChannelState = "connecting" | "connected" | "terminated";

/** Counters of one subscription (or of a whole producer or consumer). */
export interface ChannelStats {
  /** Datums carried: written to QUIC (producer) or received and decoded (consumer). */
  datums: number;
  /** Encoded payload bytes of those datums. */
  bytes: number;
  /** Datums dropped for this subscriber because its queue was full (producer side). */
  dropped: number;
  /** Discontinuities seen in the producer's sequence numbers (consumer side). */
  gaps: number;
  /** Datums known to be missed across those gaps (consumer side). */
  missed: number;
  /** Reconnections after the first connect (consumer side). */
  reconnects: number;
  /**
   * Datums waiting: in the subscriber's queue (producer side), or received
   * and not yet taken by the application (a consumer's aggregate stats).
   */
  queued: number;
  /** When the current connection was established (ms since the epoch), if connected. */
  connectedAt: number | undefined;
}

/** One subscription, seen from either side. */
export interface ChannelInfo {
  /** The stream. */
  readonly streamId: StreamId;
  /** The producing node. */
  readonly producerId: PeerId;
  /** The consuming node. */
  readonly consumerId: PeerId;
  /** The remote peer (as its entry was when last evaluated). */
  readonly peer: PeerInfo;
  /** The subscription's state. */
  readonly state: ChannelState;
  /** Its counters (a copy). */
  readonly stats: ChannelStats;
}

/** Fresh zeroed stats. */
export function emptyStats(): ChannelStats {
  return {
    datums: 0,
    bytes: 0,
    dropped: 0,
    gaps: 0,
    missed: 0,
    reconnects: 0,
    queued: 0,
    connectedAt: undefined,
  };
}

/** Whether `condition` holds over `channels`. */
export function conditionMet(
  condition: Condition,
  channels: Iterable<{ readonly state: ChannelState; readonly peer: PeerInfo }>,
): boolean {
  const minimum = condition.minimum ?? 1;
  const tags = toTags(condition.tags);
  let count = 0;
  for (const c of channels) {
    if (c.state !== "connected") continue;
    if (!tags.every((t) => c.peer.entry.tags.includes(t))) continue;
    if (condition.where && !allPass([condition.where], c.peer)) continue;
    count++;
  }
  return (count >= minimum) !== (condition.unmet ?? false);
}
