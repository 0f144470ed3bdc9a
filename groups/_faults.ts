// The fault switches of the chaos runs (groups/_chaos.ts) and their presets.

/** Which faults a chaos run injects besides crashes, restarts, partitions and 2% drops. */
export interface Faults {
  /** Some messages are held back for 2 to 15 election timeouts (so also reordered). */
  longDelays: boolean;
  /** Some messages are delivered twice. */
  duplicates: boolean;
  /**
   * Messages that meet a partition are retransmitted once it heals (as QUIC
   * does), so stale leaders' messages arrive late; a crashed node's messages
   * in flight still arrive.
   */
  staleMessages: boolean;
  /** Nodes tick at different rates (0.6x to 1.6x), changing during the run. */
  skew: boolean;
  /** A node freezes (no ticks, messages held) for up to 15 election timeouts, then resumes. */
  pauses: boolean;
  /** The leader's own writes wait for a slow fsync; crashes lose that tail or tear a write. */
  tornCrashes: boolean;
  /** Faults from time zero: staggered starts, partitions and crashes while the group forms. */
  formation: boolean;
  /** Members join (voters or learners promoted later) and leave while faults go on. */
  membership: boolean;
  /** A member's disk is wiped; it restarts blank (issue 12, scenario 2). */
  diskLoss: boolean;
  /** A blank member without an expected size starts isolated, then meets the group (issue 12, scenario 1). */
  blankFormation: boolean;
}

/** The original, mild model: crashes, restarts, partitions and short delays only. */
export const MILD_FAULTS: Faults = {
  longDelays: false,
  duplicates: false,
  staleMessages: false,
  skew: false,
  pauses: false,
  tornCrashes: false,
  formation: false,
  membership: false,
  diskLoss: false,
  blankFormation: false,
};

/**
 * Every fault: the harsh model of issue 12, including disk loss and a blank
 * member started isolated (the two ways acknowledged writes used to be lost).
 */
export const HARSH_FAULTS: Faults = {
  longDelays: true,
  duplicates: true,
  staleMessages: true,
  skew: true,
  pauses: true,
  tornCrashes: true,
  formation: true,
  membership: true,
  diskLoss: true,
  blankFormation: true,
};
