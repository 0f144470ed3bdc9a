// The vocabulary of a replica (`_replica.ts`): the messages of the group
// protocol besides Raft's, the events it reports and its options.
import type { Envelope, NodeId, RaftOptions } from "./_messages.ts";
import type { Storage } from "./storage.ts";
import type { StateMachine } from "./state_machine.ts";
import type { CatchUpMessage } from "./_catch_up.ts";
import type { SnapshotPullMessage } from "./_snapshot_pull.ts";
import type { StatusMessage } from "./_formation.ts";
import type { MembershipMessage } from "./_membership.ts";

/** Messages of the group protocol besides Raft's. */
export type ReplicaMessage =
  | Envelope
  | CatchUpMessage
  | SnapshotPullMessage
  | StatusMessage
  | { type: "Prop"; data: Uint8Array[] }
  | MembershipMessage;

/** Events a replica reports to its driver. */
export type ReplicaEvent =
  | { type: "leader"; leader: NodeId | undefined }
  | { type: "applied"; index: number }
  | {
    type: "reset";
    /** The incarnation this member gave up. */
    from: string;
    /** The incarnation that won. */
    to: string;
    /** Log entries discarded (committed in the losing incarnation: `committed`). */
    discarded: number;
    committed: number;
  }
  | {
    type: "conflict";
    /** Our incarnation. */
    mine: string;
    /** The other incarnation; both hold writes, so neither is given up automatically. */
    theirs: string;
    /** The member of the other incarnation that reported it. */
    peer: NodeId;
  };

/** Options of a replica; times in ticks. */
export interface ReplicaOptions {
  id: NodeId;
  storage: Storage;
  stateMachine: StateMachine;
  random: () => number;
  send: (to: NodeId, msg: ReplicaMessage) => void;
  onEvent?: (e: ReplicaEvent) => void;
  raft?: Partial<RaftOptions>;
  /** Join as a non-voting learner. */
  learner?: boolean;
  /** Ranks peers for catch-up fetches, lower first (the member passes RTTs). */
  rank?: (peer: NodeId) => number;
  /**
   * Form a new group once this many blank members (self included) are
   * bonded; undefined: never form, only join a formed group.
   */
  bootstrapExpect?: number;
  /** Ticks to wait for bonds before forming a new group. */
  formationTicks: number;
  /** Ticks a member may be absent before the leader removes it. */
  graceTicks: number;
  /** Ticks between resubmissions of an unanswered request. */
  retryTicks: number;
  /** Ticks before a request fails. */
  timeoutTicks: number;
  /** Ticks between status messages to bonded peers. */
  statusTicks: number;
  /** Take a snapshot every this many applied entries. */
  snapshotEvery: number;
  /** Maximum client sessions kept (least recently used evicted, deterministically). */
  maxSessions: number;
  /** Random client id (unique per replica incarnation). */
  clientId: string;
  /**
   * A follower this many entries behind the leader fetches the gap from
   * several peers in parallel, and snapshots are pulled from several peers
   * (0 = both off). Default 0.
   */
  catchUpGap?: number;
  /** Entries per fetch request. Default 256. */
  fetchBatch?: number;
  /**
   * Bytes per piece of a snapshot pulled from several peers (the leader's
   * setting counts); a snapshot no larger is pushed by the leader alone.
   * Default 128 KiB.
   */
  snapshotPieceBytes?: number;
  /**
   * Runs the leader's log write later (after its messages went out), so the
   * leader's fsync overlaps replication. Default: write at once.
   */
  defer?: (fn: () => void) => void;
  /**
   * Runs `fn` after the current burst of work (a macrotask). Given, a new
   * commit index reaches idle followers then, not in an empty append each at
   * once (`lazyCommitNotice`). Default: at once.
   */
  later?: (fn: () => void) => void;
}
