/**
 * Group configuration and the derivation of {@linkcode GroupId}s.
 *
 * @module
 */
import { derive, digest, type GroupId } from "@mosaik/transport";
import type { LeadershipPreference } from "./_messages.ts";
import { GroupConfigError } from "./errors.ts";

export type { LeadershipPreference };

/**
 * Consensus timing. Every member must use the same values: they are hashed
 * into the {@linkcode GroupId}, so members with different settings never meet.
 */
export interface ConsensusConfig {
  /** Milliseconds per Raft tick. Default 25. */
  tickInterval: number;
  /** Base election timeout in ticks (randomized in [e, 2e)). Default 12 (300 ms). */
  electionTicks: number;
  /** Leader heartbeat period in ticks. Default 2 (50 ms). */
  heartbeatTicks: number;
}

/** Per-member options of a group (not part of the {@linkcode GroupId}). */
export interface GroupConfig extends ConsensusConfig {
  /**
   * How many members (self included) a new group starts with: a blank voter
   * forms a group only once it is bonded with this many blank voters, none of
   * which belongs to a formed group. Set it to at least a majority of the
   * voters the group will ever have, so that members started apart can never
   * form two groups that both acknowledge writes. `1` is the explicit
   * single-node bootstrap: the member forms a group of its own at once (do
   * this on one member only). Required for voters (`join` throws a
   * {@linkcode GroupConfigError} without it); learners never form a group.
   * A member that holds any state or has voted never forms a group again.
   */
  bootstrapExpect?: number;
  /**
   * Milliseconds a blank member waits for bonds with the members the catalog
   * shows before it forms a group (with every bonded blank voter, at least
   * `bootstrapExpect` of them). Default: two base election timeouts.
   */
  formationWindow?: number;
  /** Milliseconds a member may be absent before it is removed from the configuration. Default 30 000. */
  gracePeriod: number;
  /** Milliseconds `execute` and strong queries may take. Default 10 000. */
  commandTimeout: number;
  /** Join as a non-voting learner. Default false. */
  learner: boolean;
  /** Leadership preference of this member. Default "normal". */
  preference: LeadershipPreference;
  /**
   * Region where the group should be led (members' entries declare their
   * region). A leader elsewhere that has led stably for four election
   * timeouts hands leadership (TimeoutNow) to a bonded voter of that region
   * whose log is complete; elections themselves are unchanged, so any voter
   * still leads when none of that region is up.
   */
  preferLeaderIn?: string;
  /** Snapshot (and compact the log) every this many applied entries. Default 10 000. */
  snapshotEvery: number;
  /** Maximum entries per AppendEntries message. Default 512. */
  maxEntriesPerMsg: number;
  /** Maximum bytes per AppendEntries message and per snapshot chunk. Default 1 MiB. */
  maxBytesPerMsg: number;
  /** Maximum AppendEntries messages in flight per follower. Default 64. */
  maxInflight: number;
  /**
   * A member this many entries behind the leader's commit fetches the gap
   * from several peers in parallel (each peer serves only if its log holds the
   * leader's (index, term) point; the leader vouches for each range by its
   * SHA-256), and a member receiving a snapshot pulls its pieces from every
   * peer holding it (each checked against the leader's SHA-256 manifest).
   * 0 turns both off. Default 256.
   */
  catchUpGap: number;
  /** Milliseconds without anything arriving after which a bond is closed and redialed. Default 2 000. */
  bondTimeout: number;
  /** Extra members to bond with, as `"<peerId>@host:port"` (besides the catalog). */
  peers: string[];
}

/** Default {@linkcode GroupConfig}. */
export const DEFAULT_GROUP_CONFIG: GroupConfig = {
  tickInterval: 25,
  electionTicks: 12,
  heartbeatTicks: 2,
  gracePeriod: 30_000,
  commandTimeout: 10_000,
  learner: false,
  preference: "normal",
  snapshotEvery: 10_000,
  maxEntriesPerMsg: 512,
  maxBytesPerMsg: 1 << 20,
  maxInflight: 64,
  catchUpGap: 256,
  bondTimeout: 2000,
  peers: [],
};

/**
 * Throws a {@linkcode GroupConfigError} when `config` cannot work: a voter
 * needs `bootstrapExpect` (a positive integer).
 *
 * @example
 * ```ts
 * import { checkGroupConfig, DEFAULT_GROUP_CONFIG, GroupConfigError } from "@mosaik/groups";
 * checkGroupConfig({ ...DEFAULT_GROUP_CONFIG, bootstrapExpect: 3 });
 * try {
 *   checkGroupConfig(DEFAULT_GROUP_CONFIG);
 * } catch (e) {
 *   console.assert(e instanceof GroupConfigError);
 * }
 * ```
 */
export function checkGroupConfig(config: GroupConfig): void {
  const expect = config.bootstrapExpect;
  if (expect === undefined) {
    if (config.learner) return;
    throw new GroupConfigError(
      "a voter needs config.bootstrapExpect: the number of members a new group starts with " +
        "(at least a majority of its voters), or 1 to bootstrap a single-node group",
    );
  }
  if (!Number.isInteger(expect) || expect < 1) {
    throw new GroupConfigError(
      `config.bootstrapExpect must be a positive integer, got ${expect}`,
    );
  }
}

/**
 * The id of a group: the key, the state machine's name (type and version),
 * the consensus timing and the required ticket validators' ids (in order),
 * hashed.
 *
 * @example
 * ```ts
 * import { DEFAULT_GROUP_CONFIG, groupId } from "@mosaik/groups";
 * const a = groupId("counter", "counter/v1", DEFAULT_GROUP_CONFIG);
 * console.assert(a === groupId("counter", "counter/v1", DEFAULT_GROUP_CONFIG));
 * console.assert(a !== groupId("counter", "counter/v2", DEFAULT_GROUP_CONFIG));
 * ```
 */
export function groupId(
  key: string,
  stateMachine: string,
  consensus: ConsensusConfig,
  ticketValidators: readonly string[] = [],
): GroupId {
  const timing = `${consensus.tickInterval}/${consensus.electionTicks}/${consensus.heartbeatTicks}`;
  let id = derive<GroupId>(digest(key), `mosaik/groups/1|${stateMachine}|${timing}`);
  for (const v of ticketValidators) id = derive<GroupId>(id, `ticket|${v}`);
  return id;
}
