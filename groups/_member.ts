// One local member of one group: the replica, its bonds to the other members
// over "/mosaik/groups/1" channels, the tick timer and the waiters behind
// `group.when`. Shared by every handle of the same group on a node.
import {
  type Channel,
  checkTickets,
  CloseCode,
  deadline,
  delay,
  derive,
  type Digest,
  digestBytes,
  type Endpoint,
  type GroupId,
  type PeerId,
  type Ticket,
  type TicketValidator,
  Timers,
  Waiter,
  type WaitOptions,
} from "@mosaik/transport";
import { GroupClosedError } from "./errors.ts";
import { IncarnationEvents } from "./_incarnation_events.ts";
import type { ReplicaEvent, ReplicaMessage } from "./_replica_types.ts";
import { Replica } from "./_replica.ts";
import { BondEncoder } from "./_encoder.ts";
import { parseMessage, parseWelcome, PROTOCOL } from "./_wire.ts";
import type { GroupConfig } from "./config.ts";
import type { StateMachine } from "./state_machine.ts";
import { MemoryStorage, type Storage } from "./storage.ts";

/** Milliseconds a dialed peer has to welcome us. */
const HANDSHAKE_TIMEOUT = 2000;

/** The part of a peer entry groups read. Discovery's `PeerEntry` fits. */
export interface GroupPeerEntry {
  /** The peer. */
  readonly peerId: PeerId;
  /** Its QUIC addresses, `host:port`. */
  readonly addresses: readonly string[];
  /** Its tickets. */
  readonly tickets?: readonly Ticket[];
  /** Where it says it runs. */
  readonly placement?: { readonly region?: string };
}

/** The catalog a group needs: members announcing a group id, and changes. */
export interface GroupCatalog {
  /** Peers whose entry lists the group. */
  withGroup(id: GroupId): readonly GroupPeerEntry[];
  /** The latest entry of a peer. */
  get(peer: PeerId): GroupPeerEntry | undefined;
  /** Calls `fn` on every catalog change; returns an unsubscribe function. */
  subscribe(fn: (event: GroupCatalogEvent) => void): () => void;
}

/** The part of a catalog event groups read. Discovery's `CatalogEvent` fits. */
export interface GroupCatalogEvent {
  /** The entry that changed: only entries listing a group concern it. */
  readonly entry: { readonly groups?: readonly GroupId[] };
}

/** Our own announced entry: groups are added on join and removed on stop. */
export interface GroupLocalEntry {
  /** Announces membership of a group. */
  addGroup(id: GroupId): void;
  /** Withdraws it. */
  removeGroup(id: GroupId): void;
  /** The entry itself (`preferLeaderIn` reads our region from it). */
  readonly entry?: { readonly placement?: { readonly region?: string } };
}

interface Bond {
  peer: PeerId;
  channel: Channel;
  lastRecv: number;
}

export class Member {
  readonly id: GroupId;
  readonly replica: Replica;
  readonly config: GroupConfig;
  readonly endpoint: Endpoint;
  readonly self: PeerId;
  handles = 0;
  leaderChanges = 0;
  #secret: Digest;
  #bonds = new Map<PeerId, Bond>();
  #spare = new Set<Bond>();
  #dialing = new Set<PeerId>();
  #catalog: GroupCatalog | undefined;
  #local: GroupLocalEntry | undefined;
  #timer: ReturnType<typeof setInterval>;
  #dialTimer: ReturnType<typeof setInterval>;
  #unsubscribe: (() => void) | undefined;
  #dialQueued = false;
  #waiter = new Waiter();
  /** Resets and conflicts of incarnations, reported to listeners and the log. */
  readonly incarnations: IncarnationEvents;
  #storage: Storage;
  #closing: Promise<void> | undefined;
  #onStop: () => void;
  #static: { peerId: PeerId; addresses: readonly string[] }[];
  #validators: readonly TicketValidator[];
  #rechecking = false;
  /** Pending `#soon` callbacks (cancelled when the member stops). */
  readonly #timers = new Timers();
  #encoder = new BondEncoder();

  constructor(args: {
    id: GroupId;
    secret: Digest;
    endpoint: Endpoint;
    stateMachine: StateMachine;
    storage: Storage;
    config: GroupConfig;
    catalog?: GroupCatalog;
    local?: GroupLocalEntry;
    /** RTT in ms to a peer, if known (ranks catch-up sources). */
    rtt?: (peer: PeerId) => number | undefined;
    tickets?: readonly TicketValidator[];
    onStop: () => void;
  }) {
    this.#validators = args.tickets ?? [];
    this.id = args.id;
    this.#secret = args.secret;
    this.endpoint = args.endpoint;
    this.self = args.endpoint.peerId;
    this.config = args.config;
    this.incarnations = new IncarnationEvents(this.id);
    this.#storage = args.storage;
    this.#catalog = args.catalog;
    this.#local = args.local;
    this.#onStop = args.onStop;
    this.#static = args.config.peers.map((p) => {
      const at = p.lastIndexOf("@");
      return { peerId: p.slice(0, at) as PeerId, addresses: [p.slice(at + 1)] };
    });
    const c = args.config;
    const ticks = (ms: number) => Math.max(1, Math.round(ms / c.tickInterval));
    const clientId = crypto.randomUUID();
    this.replica = new Replica({
      id: this.self,
      storage: args.storage,
      stateMachine: args.stateMachine,
      random: Math.random,
      send: (to, msg) => this.#send(to as PeerId, msg),
      onEvent: (e) => this.#onEvent(e),
      raft: {
        electionTicks: c.electionTicks,
        heartbeatTicks: c.heartbeatTicks,
        maxEntriesPerMsg: c.maxEntriesPerMsg,
        maxBytesPerMsg: c.maxBytesPerMsg,
        snapshotChunkBytes: c.maxBytesPerMsg,
        maxInflight: c.maxInflight,
        preference: c.preference,
      },
      learner: c.learner,
      rank: (peer) => args.rtt?.(peer as PeerId) ?? Infinity,
      bootstrapExpect: c.bootstrapExpect,
      formationTicks: c.formationWindow !== undefined
        ? ticks(c.formationWindow)
        : 2 * c.electionTicks,
      graceTicks: ticks(c.gracePeriod),
      retryTicks: c.electionTicks,
      timeoutTicks: ticks(c.commandTimeout),
      statusTicks: Math.max(1, c.electionTicks >> 1),
      snapshotEvery: c.snapshotEvery,
      maxSessions: 4096,
      clientId,
      catchUpGap: c.catchUpGap,
      fetchBatch: c.maxEntriesPerMsg,
      // Only a write that syncs before it returns runs after the leader's
      // messages went out; a timer costs 2-4 ms under load, which a write to
      // memory or a group-committed file (synced in the background) need not.
      defer: args.storage.groupCommit || args.storage instanceof MemoryStorage
        ? undefined
        : (fn) => this.#soon(fn),
      later: (fn) => this.#soon(fn),
    });
    this.#local?.addGroup(this.id);
    // Only entries listing this group matter, and one dial round per task
    // does for all of them: a catalog filling with thousands of peers must
    // not rescan it per insertion.
    this.#unsubscribe = this.#catalog?.subscribe((event) => {
      if (this.#dialQueued || !event.entry.groups?.includes(this.id)) return;
      this.#dialQueued = true;
      queueMicrotask(() => {
        this.#dialQueued = false;
        this.#dialAll();
      });
    });
    this.#timer = setInterval(() => {
      this.replica.tick();
      this.#preferLeader();
      if (this.#waiter.size) this.#waiter.notify();
    }, c.tickInterval);
    this.#dialTimer = setInterval(() => this.#dialAll(), 250);
    this.#dialAll();
  }

  /** Ticks this member has led without a break (for `preferLeaderIn`). */
  #ledFor = 0;

  /** A stable leader outside the preferred region hands over to a caught-up voter in it. */
  #preferLeader(): void {
    const region = this.config.preferLeaderIn;
    const core = this.replica.core;
    if (region === undefined || core.role !== "leader" || !core.leader) {
      this.#ledFor = 0;
      return;
    }
    if (++this.#ledFor < 4 * this.config.electionTicks || core.transferring) return;
    if (this.#local?.entry?.placement?.region === region) return;
    this.#ledFor = 0;
    const target = (core.config?.voters ?? []).find((v) =>
      this.#catalog?.get(v as PeerId)?.placement?.region === region &&
      this.#bonds.has(v as PeerId) &&
      core.leader!.progress.get(v)?.match === core.log.lastIndex
    );
    if (target !== undefined) core.transferLeadership(target);
  }

  // ------------------------------------------------------------ bonds

  proof(prover: PeerId, verifier: PeerId): Uint8Array {
    return digestBytes(
      derive(this.#secret, `mosaik/groups/proof|${this.id}|${prover}|${verifier}`),
    );
  }

  #wanted(): { peerId: PeerId; addresses: readonly string[] }[] {
    const out = new Map<PeerId, { peerId: PeerId; addresses: readonly string[] }>();
    for (const p of this.#static) out.set(p.peerId, p);
    for (const p of this.#catalog?.withGroup(this.id) ?? []) out.set(p.peerId, p);
    out.delete(this.self);
    return [...out.values()];
  }

  /** Whether `peer` presents a valid ticket for every required validator. */
  async authorized(peer: PeerId): Promise<boolean> {
    if (!this.#validators.length) return true;
    const entry = this.#catalog?.get(peer);
    if (!entry) return false;
    const verdict = await checkTickets(
      this.#validators,
      { peerId: peer, tickets: entry.tickets ?? [] },
      { networkId: this.endpoint.networkId },
    );
    return verdict.ok && (verdict.expiresAt === undefined || verdict.expiresAt > Date.now());
  }

  /** Re-checks tickets of bonded peers (revocation, expiry). */
  async #recheck(): Promise<void> {
    if (!this.#validators.length || this.#rechecking) return;
    this.#rechecking = true;
    try {
      for (const [peer, bond] of this.#bonds) {
        if (!(await this.authorized(peer)) && this.#bonds.get(peer) === bond) {
          bond.channel.close(CloseCode.GroupNotAllowed, "ticket no longer valid").catch(() => {});
        }
      }
    } finally {
      this.#rechecking = false;
    }
  }

  #dialAll(): void {
    if (this.#closing) return;
    this.#reapSilent();
    this.#recheck();
    for (const p of this.#wanted()) {
      if (this.#bonds.has(p.peerId) || this.#dialing.has(p.peerId)) continue;
      this.#dialing.add(p.peerId);
      this.#dial(p.peerId, p.addresses).finally(() => this.#dialing.delete(p.peerId));
    }
  }

  async #dial(peer: PeerId, addresses: readonly string[]): Promise<void> {
    let channel: Channel | undefined;
    try {
      if (!(await this.authorized(peer))) return;
      channel = await this.endpoint.open(peer, addresses, PROTOCOL);
      await channel.send({ t: "hello", group: this.id, proof: this.proof(this.self, peer) });
      const welcome = parseWelcome(await deadline(channel.recv(), HANDSHAKE_TIMEOUT));
      if (!equal(welcome.proof, this.proof(peer, this.self))) {
        await channel.close(CloseCode.GroupInvalidProof, "invalid proof");
        return;
      }
      if (this.#closing) {
        await channel.close(CloseCode.GracefulShutdown, "stopping");
        return;
      }
      this.attach({ peer, channel, lastRecv: 0 });
    } catch {
      channel?.close(CloseCode.Cancelled, "bond failed").catch(() => {});
    }
  }

  /** Accepts a verified incoming bond (the hello was checked by Groups). */
  async accept(channel: Channel): Promise<void> {
    if (this.#closing) {
      await channel.close(CloseCode.GroupNotFound, "stopping");
      return;
    }
    if (!(await this.authorized(channel.peerId))) {
      await channel.close(CloseCode.GroupNotAllowed, "not allowed");
      return;
    }
    await channel.send({ t: "welcome", proof: this.proof(this.self, channel.peerId) });
    this.attach({ peer: channel.peerId, channel, lastRecv: 0 });
  }

  /**
   * Adds a bond. Two channels to one peer can exist for a while (crossing
   * dials, or a peer that restarted while our old connection still looks
   * alive): we send on the current one and make a channel current as soon as
   * the peer sends on it, so both sides converge on the channel in use; a
   * channel silent for `bondTimeout` is closed.
   */
  attach(bond: Bond): void {
    bond.lastRecv = Date.now();
    const old = this.#bonds.get(bond.peer);
    if (old) this.#spare.add(old);
    this.#bonds.set(bond.peer, bond);
    if (!old) this.replica.setBonds(this.#bonds.keys());
    this.#read(bond);
  }

  async #read(bond: Bond): Promise<void> {
    try {
      for (;;) {
        const raw = await bond.channel.recv();
        if (raw === undefined) break;
        const msg = parseMessage(raw);
        bond.lastRecv = Date.now();
        const current = this.#bonds.get(bond.peer);
        if (current !== bond) {
          if (!this.#spare.has(bond)) break; // already dropped
          this.#spare.delete(bond);
          if (current) this.#spare.add(current);
          this.#bonds.set(bond.peer, bond);
        }
        this.replica.receive(bond.peer, msg);
      }
    } catch {
      // closed, blocked or malformed: the bond ends
    }
    this.#drop(bond);
  }

  #drop(bond: Bond): void {
    bond.channel.close(CloseCode.Success).catch(() => {});
    this.#spare.delete(bond);
    if (this.#bonds.get(bond.peer) !== bond) return;
    const spare = [...this.#spare].find((b) => b.peer === bond.peer);
    if (spare) {
      this.#spare.delete(spare);
      this.#bonds.set(bond.peer, spare);
      return;
    }
    this.#bonds.delete(bond.peer);
    this.replica.setBonds(this.#bonds.keys());
    if (!this.#closing) this.#dialAll();
  }

  /** Closes channels that stayed silent too long (a peer that vanished or restarted). */
  #reapSilent(): void {
    const limit = Date.now() - this.config.bondTimeout;
    for (const b of [...this.#bonds.values(), ...this.#spare]) {
      if (b.lastRecv < limit) this.#drop(b);
    }
  }

  /** Runs `fn` in a macrotask of its own. */
  #soon(fn: () => void): void {
    this.#timers.after(0, fn);
  }

  #send(to: PeerId, msg: ReplicaMessage): void {
    const bond = this.#bonds.get(to);
    if (bond) bond.channel.sendBytes(this.#encoder.encode(msg)).catch(() => {});
  }

  /** Peers with a live bond. */
  get bonded(): PeerId[] {
    return [...this.#bonds.keys()];
  }

  // ------------------------------------------------------------ waiting

  #onEvent(e: ReplicaEvent): void {
    if (e.type === "leader" && e.leader !== undefined) this.leaderChanges++;
    if (e.type === "reset" || e.type === "conflict") this.incarnations.report(e);
    this.#waiter.notify();
  }

  /** Resolves once `check()` holds; rejects with a `GroupClosedError` once the member stops. */
  waitFor(check: () => boolean, options?: WaitOptions): Promise<void> {
    return this.#waiter.wait(check, options);
  }

  // ------------------------------------------------------------ stop

  /** Stops the member without leaving; a leader hands leadership over first. */
  stop(): Promise<void> {
    this.#closing ??= this.#stop();
    return this.#closing;
  }

  async #stop(): Promise<void> {
    this.#onStop();
    const r = this.replica;
    if (r.core.role === "leader" && (r.core.config?.voters.length ?? 0) > 1) {
      r.core.transferLeadership();
      r.tick();
      const until = Date.now() + this.config.tickInterval * this.config.electionTicks * 2;
      while (r.core.role === "leader" && Date.now() < until) {
        await delay(this.config.tickInterval);
      }
    }
    clearInterval(this.#timer);
    clearInterval(this.#dialTimer);
    this.#timers.close();
    r.core.advance(); // stopping cleanly: nothing the leader sent stays unwritten
    this.#unsubscribe?.();
    this.#local?.removeGroup(this.id);
    r.close();
    this.#waiter.close(new GroupClosedError("the group is closed"));
    const bonds = [...this.#bonds.values(), ...this.#spare];
    this.#bonds.clear();
    this.#spare.clear();
    await Promise.all(
      bonds.map((b) => b.channel.close(CloseCode.GracefulShutdown, "stopping").catch(() => {})),
    );
    this.#storage.close();
  }

  get stopping(): boolean {
    return this.#closing !== undefined;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
