/**
 * {@linkcode Groups}: the groups subsystem of one node.
 *
 * @module
 */
import {
  type Channel,
  CloseCode,
  deadline,
  digest,
  type Endpoint,
  type GroupId,
  type PeerId,
  type TicketValidator,
  ticketValidators,
  TimeoutError,
} from "@mosaik/transport";
import {
  type GroupCatalog,
  type GroupCatalogEvent,
  type GroupLocalEntry,
  type GroupPeerEntry,
  Member,
} from "./_member.ts";
import { parseHello, PROTOCOL } from "./_wire.ts";
import { checkGroupConfig, DEFAULT_GROUP_CONFIG, type GroupConfig, groupId } from "./config.ts";
import { createGroup, type Group, type GroupMetrics, type Members, viewGroup } from "./group.ts";
import { GroupClosedError } from "./errors.ts";
import type { StateMachine } from "./state_machine.ts";
import { MemoryStorage, type Storage } from "./storage.ts";

export type { GroupCatalog, GroupCatalogEvent, GroupLocalEntry, GroupPeerEntry };

/** Milliseconds a bonding peer has to send its hello (before it, the group is unknown). */
const HELLO_TIMEOUT = DEFAULT_GROUP_CONFIG.bondTimeout;

/** Where members are found: a catalog and our own entry (a `Discovery` fits). */
export interface GroupsDiscovery {
  /** Peers and their groups. */
  catalog: GroupCatalog;
  /** Our announced entry. */
  local: GroupLocalEntry;
  /** RTT to a peer (measured or predicted); catch-up fetches from the nearest first. */
  rtt?(peer: PeerId): { readonly ms: number } | undefined;
}

/** One group as {@linkcode Groups.snapshot} reports it. */
export interface GroupSnapshot {
  /** The group's id. */
  id: GroupId;
  /** The current leader, if known. */
  leader: PeerId | undefined;
  /** Voters and learners of the latest configuration. */
  members: Members;
  /** Counters and gauges. */
  metrics: GroupMetrics;
}

/** Arguments of {@linkcode Groups.join}. */
export interface JoinOptions<C, R, Q, QR> {
  /** Secret shared by the members (a string or 64 hex characters). */
  key: string;
  /** The replicated state machine (its `name` is part of the GroupId). */
  stateMachine: StateMachine<C, R, Q, QR>;
  /** Durable state; default in memory. The group owns and closes it. */
  storage?: Storage;
  /** Options; consensus timing must match on every member. */
  config?: Partial<GroupConfig>;
  /**
   * Tickets every member must present (in its discovery entry), checked when
   * bonding and again on every catalog change: one validator or a list (all
   * must accept); order matters for the GroupId.
   */
  requireTicket?: TicketValidator | readonly TicketValidator[];
}

/**
 * The groups of one node. Members find each other through the catalog (or
 * static `peers`) and bond over `/mosaik/groups/1` channels.
 *
 * @example
 * ```ts ignore
 * const groups = new Groups(endpoint, discovery);
 * const g = groups.join({ key: "k", stateMachine: counter, config: { bootstrapExpect: 3 } });
 * ```
 */
export class Groups implements AsyncDisposable {
  #endpoint: Endpoint;
  #discovery: GroupsDiscovery | undefined;
  #members = new Map<GroupId, Member>();
  #closed = false;

  /** Serves the group protocol on `endpoint`; `discovery` is optional (static peers otherwise). */
  constructor(endpoint: Endpoint, discovery?: GroupsDiscovery) {
    this.#endpoint = endpoint;
    this.#discovery = discovery;
    // the opener speaks first (its hello)
    endpoint.handle(PROTOCOL, (channel) => this.#accept(channel), { openerSpeaksFirst: true });
  }

  /**
   * Joins (or forms) a group. Joining the same group again on this node
   * returns another handle on the same member; when the member is a learner
   * and this join asks for a voter (`learner: false`), the member is promoted
   * (see {@linkcode Group.promote}) with this join's leadership preference.
   */
  join<C, R, Q, QR>(options: JoinOptions<C, R, Q, QR>): Group<C, R, Q, QR> {
    if (this.#closed) throw new GroupClosedError("groups are closed");
    const config: GroupConfig = { ...DEFAULT_GROUP_CONFIG, ...options.config };
    checkGroupConfig(config);
    const validators = ticketValidators(options.requireTicket);
    const id = groupId(
      options.key,
      options.stateMachine.name,
      config,
      validators.map((v) => v.id ?? v.kind),
    );
    let member = this.#members.get(id);
    if (!member) {
      member = new Member({
        id,
        secret: digest(options.key),
        endpoint: this.#endpoint,
        stateMachine: options.stateMachine as StateMachine,
        storage: options.storage ?? new MemoryStorage(),
        config,
        catalog: this.#discovery?.catalog,
        local: this.#discovery?.local,
        rtt: (peer) => this.#discovery?.rtt?.(peer)?.ms,
        tickets: validators,
        onStop: () => {
          if (this.#members.get(id) === member) this.#members.delete(id);
        },
      });
      this.#members.set(id, member);
    } else if (member.replica.opts.learner && !config.learner) {
      member.replica.promote(config.preference);
    }
    return createGroup<C, R, Q, QR>(member);
  }

  /** Ids of the groups this node is a member of. */
  get ids(): GroupId[] {
    return [...this.#members.keys()];
  }

  /** Every group of this node with its leader, members and metrics (for diagnostics). */
  snapshot(): GroupSnapshot[] {
    return [...this.#members.values()].map((member) => {
      const view = viewGroup(member);
      return { id: view.id, leader: view.leader, members: view.members, metrics: view.metrics };
    });
  }

  async #accept(channel: Channel): Promise<void> {
    let hello;
    try {
      hello = parseHello(await deadline(channel.recv(), HELLO_TIMEOUT));
    } catch (e) {
      const [code, reason] = e instanceof TimeoutError
        ? [CloseCode.GroupTimeout, "no hello in time"]
        : [CloseCode.GroupInvalidHandshake, "invalid handshake"];
      await channel.close(code, reason).catch(() => {});
      return;
    }
    const member = this.#members.get(hello.group as GroupId);
    if (!member) {
      await channel.close(CloseCode.GroupNotFound, "no such group").catch(() => {});
      return;
    }
    const expected = member.proof(channel.peerId, this.#endpoint.peerId);
    if (!hello.proof.every((b, i) => b === expected[i])) {
      await channel.close(CloseCode.GroupInvalidProof, "invalid proof").catch(() => {});
      return;
    }
    await member.accept(channel).catch(() => {});
  }

  /** Stops every member (without leaving); leaders hand over first. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#members.values()].map((m) => m.stop()));
  }

  /** Same as {@linkcode Groups.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
