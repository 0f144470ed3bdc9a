/**
 * `@mosaik/collections`: replicated data structures over Raft groups.
 *
 * {@linkcode SharedMap}, {@linkcode SharedVec}, {@linkcode SharedSet},
 * {@linkcode SharedCell}, {@linkcode SharedOnce} and
 * {@linkcode SharedPriorityQueue}, each opened as `.writer(network, name)` or
 * `.reader(network, name)`. Every store is one group of `@mosaik/groups`
 * whose replicated state machine is the collection: writers are voting
 * members, readers non-voting learners (a store with readers only has no
 * leader and stays offline). Writes from any writer go through the leader,
 * so all nodes apply the same commands in the same order.
 *
 * - Reads are local and synchronous: they see the state as of
 *   `handle.version`, never a half-applied command.
 * - Every write resolves to the {@linkcode Version} (log index) of its
 *   command once committed and applied on this node, so a writer reads its
 *   own writes; `when.reaches(version)` waits for a version on any node.
 * - Failed writes reject with {@linkcode WriteError}, which hands the
 *   arguments back. Writes of an empty batch resolve at once to the current
 *   version without sending anything.
 * - Commands that change nothing (removing a missing key, a failed CAS, an
 *   out-of-range Vec insert) still take a version.
 * - Late joiners catch up by snapshot (or by log replay when the leader
 *   still has the entries).
 * - Several handles of one store on one node share one member and one
 *   state; opening a writer where the node only read makes it rejoin as a
 *   voter. The node stays a voter until its last handle closes; closing the
 *   last writer handle leaves the group through the log.
 * - Keys and CAS compare by MessagePack encoding; stored values are frozen
 *   MessagePack round-trips of the written ones (`undefined` fields vanish).
 * - Limits: one write is one log entry (at most `maxCommandBytes`, 4 MiB by
 *   default). A snapshot travels to a late joiner in acknowledged,
 *   checksummed chunks, so a store may outgrow the transport's frame limit.
 *
 * @example
 * ```ts
 * import { Endpoint, networkId } from "@mosaik/transport";
 * import { Groups } from "@mosaik/groups";
 * import { SharedMap } from "@mosaik/collections";
 *
 * const endpoint = await Endpoint.create({ networkId: networkId("demo") });
 * const node = { groups: new Groups(endpoint) }; // or a Network from @mosaik/network
 * const balances = SharedMap.writer<string, number>(node, "balances", {
 *   group: { formationWindow: 0 }, // a single writer: form the store at once
 * });
 * await balances.when.online();
 * const version = await balances.insert("alice", 100);
 * console.assert(balances.get("alice") === 100 && balances.version >= version);
 * await balances.close();
 * await node.groups.close();
 * await endpoint.close();
 * ```
 *
 * @module
 */
export * from "./options.ts";
export * from "./errors.ts";
export * from "./collection.ts";
export * from "./map.ts";
export * from "./vec.ts";
export * from "./set.ts";
export * from "./cell.ts";
export * from "./priority_queue.ts";
export type {
  Digest,
  GroupId,
  NetworkId,
  PeerId,
  StoreId,
  Ticket,
  TicketValidator,
} from "@mosaik/transport";
export { MosaikError } from "@mosaik/transport";
export type { ConsensusConfig, GroupConfig, LeadershipPreference } from "@mosaik/groups";
