// What fetching from several peers at once (log ranges in _catch_up.ts,
// snapshot pieces in _snapshot_pull.ts) needs from its replica, and how both
// pick the peers they ask.
import type { NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";

/** The replica as seen by a fetch from peers; times in ticks. */
export interface SourcesHost {
  core(): RaftCore;
  now(): number;
  bonds(): ReadonlySet<NodeId>;
  /** The incarnation a bonded peer reported. */
  clusterOf(peer: NodeId): string | undefined;
  readonly retryTicks: number;
  readonly timeoutTicks: number;
  /** Lower first (for example the RTT): the nearest peers are asked first. */
  rank?(peer: NodeId): number;
}

/** Bonded peers of incarnation `cluster` that `skip` leaves, nearest first (ties by id). */
export function nearestSources(
  host: SourcesHost,
  cluster: string,
  skip: (peer: NodeId) => boolean,
): NodeId[] {
  const rank = (p: NodeId) => host.rank?.(p) ?? 0;
  return [...host.bonds()]
    .filter((p) => !skip(p) && host.clusterOf(p) === cluster)
    .sort((a, b) => (rank(a) - rank(b)) || (a < b ? -1 : a > b ? 1 : 0));
}
