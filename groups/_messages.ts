// The vocabulary of the Raft core: node ids, roles and the messages members
// exchange (etcd/raft's raftpb, reduced to what the core sends).
import type { Entry, Snapshot } from "./storage.ts";

/** A member's id (a PeerId in the group layer). */
export type NodeId = string;

/** Who may become leader: as usual, later than others, or never. */
export type LeadershipPreference = "normal" | "reluctant" | "never";

/** Role of a node. */
export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** Raft wire messages. Every message carries the sender's term. */
export type RaftMessage =
  | {
    type: "PreVote" | "Vote";
    term: number;
    lastIndex: number;
    lastTerm: number;
    force?: boolean;
    /** The recipient's epoch in the candidate's configuration: another epoch may not vote. */
    voterEpoch?: string;
  }
  | { type: "PreVoteR" | "VoteR"; term: number; reject: boolean }
  | {
    type: "App";
    term: number;
    prevIndex: number;
    prevTerm: number;
    entries: Entry[];
    commit: number;
  }
  | { type: "AppR"; term: number; index: number; reject: boolean; hint: number; hintTerm: number }
  | {
    type: "Hb";
    term: number;
    commit: number;
    ctx?: string;
    /** The leader's commit index and its term: a point lagging members catch up to. */
    lc?: number;
    lct?: number;
  }
  | {
    type: "HbR";
    term: number;
    ctx?: string;
    /** The follower's last log index: lower than its match index when it lost its storage. */
    last?: number;
  }
  | {
    type: "Snap";
    term: number;
    /** The snapshot; `data` holds bytes `offset..offset + data.length` of its data. */
    snapshot: Snapshot;
    offset: number;
    /** Length of the whole data. */
    total: number;
    /** CRC-32 of the whole data, checked before restore. */
    crc: number;
  }
  | { type: "SnapR"; term: number; index: number; offset: number }
  | { type: "TimeoutNow"; term: number }
  | { type: "ReadIndex"; term: number; ctx: string }
  | { type: "ReadIndexR"; term: number; ctx: string; index: number };

/** A message with its cluster incarnation and the sender's storage epoch, as sent on the wire. */
export type Envelope = RaftMessage & { cluster?: string; epoch?: string };

/** The message of type `T`. */
export type MessageOf<T extends RaftMessage["type"]> = Extract<RaftMessage, { type: T }>;

/** An outgoing message. */
export interface Outgoing {
  /** Destination. */
  to: NodeId;
  /** The message. */
  msg: Envelope;
}

/** The result of a ReadIndex request: reads at `index` or later are linearizable. */
export interface ReadState {
  /** The request's context. */
  ctx: string;
  /** Commit index to wait for; -1 if the request was refused (no leader). */
  index: number;
}

/** Tunables of the Raft core; times are in ticks. */
export interface RaftOptions {
  /** Base election timeout; the randomized timeout is in [e, 2e). Default 10. */
  electionTicks: number;
  /** Leader heartbeat period. Default 1. */
  heartbeatTicks: number;
  /** Maximum entries per AppendEntries message. Default 512. */
  maxEntriesPerMsg: number;
  /** Maximum payload bytes per AppendEntries message. Default 1 MiB. */
  maxBytesPerMsg: number;
  /** Maximum unacknowledged AppendEntries messages per follower. Default 64. */
  maxInflight: number;
  /** Leadership preference of this node. Default "normal". */
  preference: LeadershipPreference;
  /** Factor of the election timeout of a reluctant node. Default 3. */
  reluctantFactor: number;
  /** Bytes of snapshot data per InstallSnapshot message. Default 1 MiB. */
  snapshotChunkBytes: number;
  /**
   * When the commit index advances, only followers with entries to send get
   * an append at once (it carries the index); the rest hear of it when the
   * driver calls `announceCommit()`. Default false: an empty append to each.
   */
  lazyCommitNotice: boolean;
}

/** Default {@linkcode RaftOptions}. */
export const DEFAULT_RAFT_OPTIONS: RaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxEntriesPerMsg: 512,
  maxBytesPerMsg: 1 << 20,
  maxInflight: 64,
  preference: "normal",
  reluctantFactor: 3,
  snapshotChunkBytes: 1 << 20,
  lazyCommitNotice: false,
};

/** What the driver must handle after a call into the Raft core. */
export interface Ready {
  /** Messages to send. */
  messages: Outgoing[];
  /** Completed ReadIndex requests made on this node. */
  readStates: ReadState[];
  /** A snapshot (loaded at start or installed from the leader) the state machine must restore. */
  snapshot: Snapshot | undefined;
  /** The leader holds entries it sent but has not written: the driver calls `advance()` soon. */
  mustPersist: boolean;
}

/** Thrown when the log would lose a committed entry: a bug or corrupted storage. */
export class SafetyViolation extends Error {}
