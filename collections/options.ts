/**
 * Options, identities and shared types of the collections.
 *
 * @module
 */
import { derive, digest, type GroupId, type StoreId } from "@mosaik/transport";
import type { GroupConfig } from "@mosaik/groups";
import type { TicketValidator, WaitOptions } from "@mosaik/transport";

export type { GroupId, StoreId };

/**
 * What a collection needs from a node: its groups subsystem. A `Network` of
 * `@mosaik/network` fits, and so does `{ groups: new Groups(endpoint, discovery) }`.
 */
export interface CollectionNetwork {
  /** The node's groups (`Groups` of `@mosaik/groups`). */
  readonly groups: CollectionGroups;
}

/** The part of `Groups` (of `@mosaik/groups`) collections use. */
export interface CollectionGroups {
  /** Joins a group; a second join of the same group shares the member. */
  join(options: {
    key: string;
    stateMachine: {
      readonly name: string;
      apply(command: unknown, ctx: { index: number; term: number }): unknown;
      query(query: unknown): unknown;
      snapshot(): unknown;
      restore(snapshot: unknown): void;
    };
    config?: Partial<GroupConfig>;
    requireTicket?: TicketValidator | readonly TicketValidator[];
  }): CollectionGroup;
}

/** The part of a `Group` handle (of `@mosaik/groups`) collections use. */
export interface CollectionGroup {
  /** The group's id. */
  readonly id: GroupId;
  /** Member and a leader known. */
  readonly online: boolean;
  /** Highest index applied locally. */
  readonly appliedIndex: number;
  /** Highest index known committed. */
  readonly metrics: { readonly commitIndex: number };
  /** Voters and learners of the configuration. */
  readonly members: { readonly voters: readonly string[]; readonly learners: readonly string[] };
  /** A voter of the latest configuration with its current storage. */
  readonly isVoter: boolean;
  /** Waiting on the group. */
  readonly when: { online(): Promise<void>; applied(index: number): Promise<void> };
  /** Replicates a command; resolves once applied locally. */
  execute(command: unknown): Promise<{ index: number; result: unknown }>;
  /** Leaves through the log, then closes. */
  leave(): Promise<void>;
  /** Closes the handle. */
  close(): Promise<void>;
}

/**
 * The position of a write in the collection's history: the Raft log index
 * of its command (the first write is 1; 0 is the empty collection). Versions
 * of one collection are totally ordered; every member applies the same
 * commands up to a version and so holds the same state there. Every command
 * consumes an index, even one that changes nothing, and so do membership
 * changes of the group, so versions are not consecutive.
 */
export type Version = number;

/** Kinds of collections; part of the {@linkcode StoreId}. */
export type CollectionKind = "map" | "vec" | "set" | "cell" | "once" | "depq";

/** Options of a collection handle. */
export interface CollectionOptions {
  /**
   * The element types' name and version, e.g. `"balance/v2"`. It enters the
   * {@linkcode StoreId}, so handles with different schemas never meet.
   * Default `""`.
   */
  schema?: string;
  /**
   * Snapshot (and compact the log) every this many applied commands; late
   * joiners behind the compaction point catch up by snapshot. Default 1000.
   */
  snapshotEvery?: number;
  /**
   * Largest encoded command a write may send; bigger writes (say a huge
   * `extend`) fail with `WriteError` reason `"too-large"` instead of
   * clogging replication. Keep it well below the transport's frame limit
   * (8 MiB by default). Default 4 MiB.
   */
  maxCommandBytes?: number;
  /**
   * How many writers the store is meant to have. A new store forms once a
   * majority of them (`⌊writers / 2⌋ + 1`, the group's `bootstrapExpect`)
   * are up and bonded, so writers started apart never form two stores that
   * both accept writes. Default 1: the first writer forms the store on its
   * own (after the formation window); a writer that started apart and wrote
   * meanwhile keeps its writes and reports a conflict instead of merging (see
   * `@mosaik/groups`). Readers never form a store.
   */
  writers?: number;
  /**
   * Group options (consensus timing, time limits, static peers). Timing is
   * part of the GroupId, so every member must use the same. The role decides
   * `learner` and `preference`, {@linkcode CollectionOptions.writers} the
   * `bootstrapExpect`.
   */
  group?: Partial<Omit<GroupConfig, "learner" | "preference" | "bootstrapExpect">>;
  /**
   * Tickets every member (writer or reader) must present in its discovery
   * entry, checked by the group when bonding and on every catalog change.
   * The validators' ids are part of the GroupId: gated and open stores of
   * the same name never meet. A node's own tickets are not checked.
   */
  requireTicket?: TicketValidator | readonly TicketValidator[];
}

/**
 * The id of a store: the collection kind, the schema and the name, hashed.
 * The same name opened as a different kind or schema is a different store.
 * The StoreId is also the group's shared secret: pick unguessable names
 * when membership must stay private.
 *
 * @example
 * ```ts
 * import { storeId } from "@mosaik/collections";
 * console.assert(storeId("map", "balances") !== storeId("set", "balances"));
 * console.assert(storeId("map", "balances") !== storeId("map", "balances", "v2"));
 * ```
 */
export function storeId(kind: CollectionKind, name: string, schema = ""): StoreId {
  return derive<StoreId>(digest(name), `mosaik/collections/1|${kind}|${schema}`);
}

/** Waiting on a collection. */
export interface CollectionWhen {
  /**
   * Resolves when this node is a member of the group, knows a leader and
   * has applied everything the group had committed when it learned of it.
   */
  online(options?: WaitOptions): Promise<void>;
  /** Resolves once this node applied `version` (immediately if it has). */
  reaches(version: Version, options?: WaitOptions): Promise<void>;
  /** Resolves at the next change of the local state. */
  updated(options?: WaitOptions): Promise<void>;
}

/** Result of a compare-and-exchange. */
export interface Exchanged {
  /** Version of the command. */
  version: Version;
  /** Whether the expected value matched and the new value was stored. */
  swapped: boolean;
}
