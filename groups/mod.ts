/**
 * `@mosaik/groups`: Raft consensus groups with replicated state machines.
 *
 * A group is identified by a key, the state machine's `name` and the
 * consensus timing ({@linkcode groupId}). Members find each other through the
 * catalog (any object with `withGroup`/`subscribe`, such as `Discovery`) or a
 * static `peers` list, and bond over `/mosaik/groups/1` channels.
 *
 * ## Consensus
 *
 * Raft as in the extended paper and etcd/raft: randomized election timeouts,
 * PreVote, CheckQuorum with a leader lease, log matching, commit of
 * current-term entries only (a new leader appends a no-op), AppendEntries
 * with flow control (probe/replicate, entries and bytes per message,
 * pipelining with a bound on messages in flight), single-server membership
 * changes through the log (one at a time; new members join as learners and
 * are promoted once caught up), learners (promoted at runtime by
 * `group.promote()` or by joining again as a voter), leadership preference
 * (`normal`, `reluctant`, `never`), leadership transfer, ReadIndex for
 * linearizable reads, snapshots with InstallSnapshot (in CRC-checked chunks
 * of `maxBytesPerMsg`, so states beyond the frame limit travel; a member
 * receiving one, new members and readers included, pulls its pieces from
 * every peer holding the same snapshot at once, each piece checked against
 * the SHA-256 manifest the leader sends, and snapshots fall on multiples of
 * `snapshotEvery` so peers hold the leader's), members
 * that restart with empty storage caught up again (heartbeat answers carry
 * the follower's last index), parallel catch-up (a member far
 * behind, a brand-new one included, fetches the gap from several peers at
 * once; a peer serves a range only if its log holds the leader's (index,
 * term) point, so by Log Matching the range equals the leader's log; the
 * member checks each range against that point and against the SHA-256 the
 * leader sends of the same range, and appends entries only while the same
 * leader and term last), and exactly-once commands (client
 * id + sequence numbers with results kept in the replicated session table).
 * Term, vote and log are written to {@linkcode Storage} before any message
 * that depends on them (the one exception, as in etcd: a leader sends its
 * new entries before writing them, and counts itself toward commit only once
 * they are written): {@linkcode MemoryStorage} or the durable
 * {@linkcode FileStorage} (CRC-checked append-only segments, torn tails
 * truncated on recovery). The file store commits in groups: writes return at
 * once, one fdatasync off the event loop covers every write made while the
 * previous one ran, and the member holds each message until the writes made
 * before it are durable (a leader's own entries count toward commit only
 * then).
 *
 * ## Commands
 *
 * `execute` resolves with `{ index, result }` once the command is committed
 * and applied on this member; `executeMany` applies its commands atomically
 * in one entry. Concurrent calls from one member are batched into shared
 * entries (the state machine sees `ctx.index` and the position `ctx.offset`).
 * Each member is a client with an id and sequence numbers; retries after a
 * leader change are deduplicated by the replicated session table, so a
 * command is applied at most once, and exactly once when `execute` resolves.
 * Errors: `GroupOfflineError` (no leader reachable), `TimeoutError` (outcome
 * unknown), `NotMemberError`, `GroupClosedError` (a `ClosedError`).
 *
 * Every waiting call (`execute`, `query`, `promote`, `leave` and the
 * `group.when` promises) takes `{ signal }` last; aborting ends the wait, not
 * a command already sent. `when.committed(i)` waits until this member knows
 * index `i` committed, `when.applied(i)` until it applied it (then local reads
 * see it); `commitIndex` and `appliedIndex` are the current values.
 *
 * ## Forming, growing and shrinking without a static member list
 *
 * A voter must say how a new group forms: `bootstrapExpect: n` (at least a
 * majority of the voters the group will ever have) makes a blank member
 * wait until it is bonded with n blank voters (itself included) that belong
 * to no group, after a formation window (`formationWindow`, two election
 * timeouts by default) that lets members starting together bond; the lowest
 * of them that may lead then writes the first configuration with every
 * bonded blank voter, the others adopt it by replication.
 * `bootstrapExpect: 1` is the explicit single-node bootstrap. Without the
 * option `join` throws a {@linkcode GroupConfigError} that names it;
 * learners never form a group. A member that holds anything or has voted
 * never forms a group itself: a blank member whose bonded peers belong to a
 * group waits to be added. From then on the leader adds bonded members (as
 * learners, promoted when caught up) and removes members absent longer than
 * the grace period (default 30 s), one change at a time. Stopping a member
 * (closing the handle or the network) does not change the configuration (a
 * leader hands leadership over first); {@linkcode Group.leave} removes it
 * through the log.
 *
 * ## Disk loss
 *
 * Every member's storage holds a random epoch, chosen when it first starts
 * on that storage, and the configuration records each member's epoch. A
 * member that lost its storage comes back with a new epoch: it is no longer
 * the voter of the configuration, so it neither votes nor counts toward a
 * commit or a read quorum; the leader re-adds it as a learner with its new
 * epoch and promotes it once it caught up (etcd's remove-and-re-add). The
 * commit index is written with the hard state (at most once a heartbeat),
 * so a restarted member never takes entries it knew committed for a suffix
 * it may replace.
 *
 * ## Groups that formed apart
 *
 * Members that could not see each other can still form two *incarnations*
 * of a group (two single-node bootstraps, or `bootstrapExpect` below a
 * majority), each with its own cluster id recorded in its first
 * configuration. Their histories are never merged: Raft messages of another
 * incarnation are refused. When members of two incarnations meet, a member
 * whose incarnation holds no write (as far as it and its peers know) gives it
 * up: it erases its state, rejoins the other incarnation as a new member and
 * reports this through {@linkcode Group.onReset}. An incarnation holding
 * writes is never given up automatically: both sides keep running apart and
 * report the conflict ({@linkcode Group.onConflict}, the `conflicts` metric,
 * a warning in the `groups` log) until an operator calls
 * {@linkcode Group.resolve} with the incarnation to keep on the members of
 * the other one (or restarts them with empty storage).
 *
 * @example
 * ```ts ignore
 * import { Network } from "@mosaik/network";
 * const counter = {
 *   name: "counter/v1",
 *   value: 0,
 *   apply(cmd: { add: number }) {
 *     return (this.value += cmd.add);
 *   },
 *   query(_q: "value") {
 *     return this.value;
 *   },
 *   snapshot() {
 *     return this.value;
 *   },
 *   restore(s: number) {
 *     this.value = s;
 *   },
 * };
 * await using node = await Network.create("my-app", { mdns: false, dht: false });
 * const group = node.groups.join({
 *   key: "counter",
 *   stateMachine: counter,
 *   config: { bootstrapExpect: 3 }, // forms once three members are up
 * });
 * await group.when.leaderElected();
 * const { index, result } = await group.execute({ add: 5 });
 * const value = await group.query("value", { consistency: "strong" });
 * ```
 *
 * @example Without a network: an endpoint and static peers
 * ```ts
 * import { Endpoint, networkId } from "@mosaik/transport";
 * import { Groups } from "@mosaik/groups";
 * const endpoint = await Endpoint.create({ networkId: networkId("doc") });
 * const groups = new Groups(endpoint);
 * const sm = {
 *   name: "log/v1",
 *   items: [] as string[],
 *   apply(s: string) {
 *     return this.items.push(s);
 *   },
 *   query() {
 *     return this.items.length;
 *   },
 *   snapshot() {
 *     return this.items;
 *   },
 *   restore(s: string[]) {
 *     this.items = s;
 *   },
 * };
 * const group = groups.join({ key: "doc", stateMachine: sm, config: { bootstrapExpect: 1 } });
 * await group.when.online();
 * console.assert((await group.execute("hello")).result === 1);
 * await groups.close();
 * await endpoint.close();
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./file_storage.ts";
export * from "./state_machine.ts";
export * from "./storage.ts";
export * from "./config.ts";
export {
  type ConflictEvent,
  type Consistency,
  Group,
  type GroupMetrics,
  type GroupWhen,
  type Members,
  type QueryOptions,
  type ResetEvent,
  type Role,
} from "./group.ts";
export * from "./groups.ts";
export type {
  Digest,
  GroupId,
  NetworkId,
  PeerId,
  Ticket,
  TicketContext,
  TicketValidator,
  TicketVerdict,
  WaitOptions,
} from "@mosaik/transport";
