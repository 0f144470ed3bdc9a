// One collection store on one node: the group member and the state machine,
// shared by every handle of the same store on the node (the groups layer
// runs one member per group id and keeps the first state machine, so every
// handle must read that one). A reader-only store joins as a learner; when a
// writer opens a store this node only reads, the writer's join promotes the
// node's learner to a voter in place (see `Groups.join`).
import type { GroupConfig } from "@mosaik/groups";
import {
  ClosedError,
  deadline,
  encode,
  type GroupId,
  type StoreId,
  type TicketValidator,
} from "@mosaik/transport";
import type { Machine } from "./_machine.ts";
import type {
  CollectionGroup as Group,
  CollectionGroups as Groups,
  CollectionOptions,
  Version,
} from "./options.ts";
import { WriteError } from "./errors.ts";

/** Role of a handle. Writers vote; readers replicate as learners. */
export type HandleRole = "writer" | "reader";

const stores = new WeakMap<Groups, Map<GroupId, Store>>();
/** Stores whose last handle closed and whose member is still leaving. */
const leaving = new WeakMap<
  Groups,
  Map<GroupId, { done: Promise<void>; machine: Machine<unknown> }>
>();

export class Store<M extends Machine<unknown> = Machine<unknown>> {
  readonly id: StoreId;
  readonly groupId: GroupId;
  role: HandleRole;
  /** The machine reads come from. */
  machine: M;
  /** The group writes go to. */
  group: Group;
  /** The group whose machine reads come from (differs while rejoining). */
  active: Group;
  #groups: Groups;
  #make: () => M;
  #config: Partial<GroupConfig>;
  #tickets: TicketValidator | readonly TicketValidator[] | undefined;
  #maxCommandBytes: number;
  #refs = 0;
  #rejoining: Promise<void> | undefined;
  #waiting: { promise: Promise<void>; resolve: () => void } | undefined;
  #closed = false;

  private constructor(
    groups: Groups,
    id: StoreId,
    make: () => M,
    role: HandleRole,
    config: Partial<GroupConfig>,
    tickets: TicketValidator | readonly TicketValidator[] | undefined,
    maxCommandBytes: number,
    machine: M,
    group: Group,
  ) {
    this.#groups = groups;
    this.id = id;
    this.groupId = group.id;
    this.#make = make;
    this.#config = config;
    this.#tickets = tickets;
    this.#maxCommandBytes = maxCommandBytes;
    this.role = role;
    this.machine = machine;
    this.group = this.active = group;
    this.#watch(machine);
  }

  /**
   * Opens (or shares) the store `id` on the node of `groups`. The group is
   * joined first: when the node already runs it, the join shares that member
   * (and drops the new machine), so the existing store is shared too.
   */
  static open<M extends Machine<unknown>>(
    groups: Groups,
    id: StoreId,
    make: () => M,
    role: HandleRole,
    options: CollectionOptions,
  ): Store<M> {
    const config: Partial<GroupConfig> = {
      snapshotEvery: options.snapshotEvery ?? 1000,
      ...options.group,
      bootstrapExpect: Math.floor((options.writers ?? 1) / 2) + 1,
    };
    const machine = make();
    const group = join(groups, id, machine, role, config, options.requireTicket);
    let byId = stores.get(groups);
    if (!byId) stores.set(groups, byId = new Map());
    let store = byId.get(group.id) as Store<M> | undefined;
    const dying = leaving.get(groups)?.get(group.id);
    if (store) {
      void group.close(); // the store holds its own handle on the shared member
      if (role === "writer") store.role = "writer"; // the join promoted a learner
    } else {
      // When the node's last handle of this store is still leaving, the join
      // above shared that member (and dropped our machine): read its machine
      // meanwhile, let the member go, then join anew.
      if (dying) void group.close();
      store = new Store(
        groups,
        id,
        make,
        role,
        config,
        options.requireTicket,
        options.maxCommandBytes ?? 4 << 20,
        dying ? dying.machine as M : machine,
        group,
      );
      byId.set(group.id, store as Store);
      if (dying) store.#rejoin(dying.done);
    }
    store.#refs++;
    return store;
  }

  #watch(machine: M): void {
    machine.onChange = () => {
      if (machine === this.machine) this.#notify();
    };
  }

  #notify(): void {
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.resolve();
  }

  /** Locally applied version. */
  get version(): Version {
    return this.active.appliedIndex;
  }

  /** Resolves at the next change of the local state. */
  updated(): Promise<void> {
    if (!this.#waiting) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => resolve = r);
      this.#waiting = { promise, resolve };
    }
    return this.#waiting.promise;
  }

  async reaches(version: Version): Promise<void> {
    for (;;) {
      const g = this.active;
      if (g.appliedIndex >= version) return;
      await g.when.applied(version);
      if (g === this.active) return;
    }
  }

  async online(): Promise<void> {
    for (;;) {
      if (this.#rejoining) await this.#rejoining;
      const g = this.group;
      await g.when.online();
      await this.reaches(g.metrics.commitIndex);
      if (g === this.group && g === this.active && g.online) return;
    }
  }

  /** Replicates one command; resolves once it is applied to the machine reads come from. */
  async execute<T>(command: unknown[], input: T): Promise<{ version: Version; result: unknown }> {
    if (this.#closed) {
      throw new WriteError("closed", input, "the collection is closed", {
        cause: new ClosedError("the collection is closed"),
      });
    }
    let bytes: number;
    try {
      bytes = encode(command).length;
    } catch (e) {
      throw WriteError.from(e, input);
    }
    if (bytes > this.#maxCommandBytes) {
      throw new WriteError("too-large", input, `the command takes ${bytes} bytes`);
    }
    try {
      if (this.#rejoining) await this.#rejoining;
      const { index, result } = await this.group.execute(command);
      await this.reaches(index);
      return { version: index, result };
    } catch (e) {
      throw WriteError.from(e, input);
    }
  }

  /**
   * Joins again (in the current role) once `before` settled, with a fresh
   * machine; reads stay on the current one until the new one caught up.
   */
  #rejoin(before: Promise<void>): void {
    const old = this.active;
    this.#rejoining = (async () => {
      await before;
      if (this.#closed) return;
      const machine = this.#make();
      this.#watch(machine);
      const group = join(this.#groups, this.id, machine, this.role, this.#config, this.#tickets);
      this.group = group;
      this.#rejoining = undefined;
      try {
        await group.when.applied(old.appliedIndex);
      } catch {
        return; // closed meanwhile
      }
      this.machine = machine;
      this.active = group;
      this.#notify();
    })();
  }

  /** Drops one handle; the last one leaves the group and stops the member. */
  async release(): Promise<void> {
    if (--this.#refs > 0) return;
    this.#closed = true;
    const byId = stores.get(this.#groups);
    if (byId?.get(this.groupId) === this) byId.delete(this.groupId);
    const done = this.#leave();
    let dying = leaving.get(this.#groups);
    if (!dying) leaving.set(this.#groups, dying = new Map());
    const entry = { done, machine: this.machine as Machine<unknown> };
    dying.set(this.groupId, entry);
    await done;
    if (dying.get(this.groupId) === entry) dying.delete(this.groupId);
    this.#notify();
  }

  async #leave(): Promise<void> {
    if (this.#rejoining) await this.#rejoining.catch(() => {});
    const g = this.group;
    // Leave through the log: a writer so the others keep their quorum, a
    // reader so that reopening the store on this node joins as a new member
    // (the leader would otherwise keep its stale replication progress).
    const last = g.members.voters.length === 1 && this.role === "writer";
    if (g.online && !last) await deadline(g.leave(), 2000).catch(() => {});
    await g.close();
    if (this.active !== g) await this.active.close();
  }
}

function join(
  groups: Groups,
  id: StoreId,
  machine: Machine<unknown>,
  role: HandleRole,
  config: Partial<GroupConfig>,
  requireTicket: TicketValidator | readonly TicketValidator[] | undefined,
): Group {
  return groups.join({
    key: id,
    stateMachine: machine,
    config: {
      ...config,
      learner: role === "reader",
      preference: role === "reader" ? "never" : "normal",
    },
    requireTicket,
  });
}

const STORE = Symbol("mosaik.collections.store");

/** The store behind a handle. */
export function storeOf<M extends Machine<unknown>>(handle: object): Store<M> {
  return (handle as { [STORE]: Store<M> })[STORE];
}

/** Binds a handle to its store (a non-enumerable symbol property: reads are hot). */
export function bind(handle: object, store: Store): void {
  Object.defineProperty(handle, STORE, { value: store });
}
