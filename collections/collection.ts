/**
 * {@linkcode Collection}: what every collection handle offers.
 *
 * @module
 */
import { abortable, type GroupId, type PeerId, type StoreId } from "@mosaik/transport";
import { bind, type HandleRole, type Store, storeOf } from "./_store.ts";
import type { CollectionWhen, Version } from "./options.ts";

export type { HandleRole };

/**
 * An opened store, handed from `SharedX.reader` / `SharedX.writer` to the
 * handle's constructor. Opaque.
 */
export interface OpenedStore {
  /** The store's id. */
  readonly storeId: StoreId;
  /** HandleRole of the handle being made. */
  readonly role: HandleRole;
}

/**
 * Base of every collection handle: identity, version, waiting and closing.
 * Reads are local and synchronous; they see every command up to
 * {@linkcode Collection.version}.
 */
export class Collection implements AsyncDisposable {
  /** The store's id (from the name, the kind and the schema). */
  readonly storeId: StoreId;
  /** The id of the group that replicates the store. */
  readonly groupId: GroupId;
  /** `"writer"` (votes, may write) or `"reader"` (replicates only). */
  readonly role: HandleRole;
  /** Waiting on the collection. */
  readonly when: CollectionWhen;
  #closed = false;

  /** Made by `SharedX.writer` / `SharedX.reader`. */
  constructor(opened: OpenedStore) {
    const store = (opened as unknown as { store: Store }).store;
    bind(this, store);
    this.storeId = opened.storeId;
    this.role = opened.role;
    this.groupId = store.groupId;
    this.when = {
      online: (options) => abortable(store.online(), options?.signal),
      reaches: (v, options) => abortable(store.reaches(v), options?.signal),
      updated: (options) => abortable(store.updated(), options?.signal),
    };
  }

  /** The version this node has applied. */
  get version(): Version {
    return storeOf(this).version;
  }

  /** Whether this node is a member, knows a leader and is not switching roles. */
  get online(): boolean {
    const s = storeOf(this);
    return s.group === s.active && s.group.online;
  }

  /**
   * Members of the store's group as this node knows them: writers are
   * voters, readers learners (PeerIds).
   */
  get members(): { voters: PeerId[]; learners: PeerId[] } {
    const m = storeOf(this).group.members;
    return { voters: [...m.voters] as PeerId[], learners: [...m.learners] as PeerId[] };
  }

  /**
   * Whether this node counts toward the store's quorum now: a writer that is
   * a voter of the latest configuration with the state it has. False for a
   * reader, and for a writer that restarted empty (the in-memory store lost
   * its state) until the group re-added it and it caught up. A store keeps
   * its writes while a majority of its writers are voting.
   *
   * @example
   * ```ts ignore
   * await map.when.online();
   * if (!map.voting) console.log("catching up; not counted toward the quorum yet");
   * ```
   */
  get voting(): boolean {
    return storeOf(this).group.isVoter;
  }

  /** Whether {@linkcode Collection.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes this handle; the node's last handle of the store leaves the group. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await storeOf(this).release();
  }

  /** Same as {@linkcode Collection.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
