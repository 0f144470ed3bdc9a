/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) as a
 * message-driven state machine: a small symmetric active view (the gossip
 * neighbours) and a larger passive view (an address book refreshed by
 * shuffles). Transport-free: messages leave through {@linkcode HyParViewIO}.
 *
 * Proximity: `nearSlots` of the active slots go to the nearest peers known
 * (by the RTT {@linkcode HyParViewIO.distance} gives, measured or predicted);
 * the others stay random, which keeps the overlay one connected graph. An
 * eviction never takes one of the nearest, every shuffle round asks the
 * nearest passive peer to become a neighbour when it is clearly nearer
 * (under half the RTT) than the farthest of the near slots, and a full node
 * accepts a request from a peer that is among its nearest.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import { pick, sample, type Scheduler } from "./_scheduler.ts";
import { HYPARVIEW_DEFAULTS, type HyParViewConfig } from "./_hyparview_config.ts";

/** A peer and where to reach it. */
export interface PeerInfo {
  /** The peer's id. */
  readonly id: PeerId;
  /** Its `host:port` addresses. */
  readonly addresses: readonly string[];
}

/** HyParView messages. */
export type HvMessage =
  | { kind: "join"; peer: PeerInfo }
  | { kind: "forwardJoin"; peer: PeerInfo; ttl: number }
  | { kind: "neighbor"; peer: PeerInfo; high: boolean }
  | { kind: "disconnect"; alive: boolean }
  | { kind: "shuffle"; origin: PeerInfo; nodes: PeerInfo[]; ttl: number }
  | { kind: "shuffleReply"; nodes: PeerInfo[] };

/** Peers introduced by forwardJoins admitted to the active view per second. */
const ADMIT_RATE = 1;
/** ... and at once. */
const ADMIT_BURST = 8;

/** Milliseconds top-ups pause after a first refusal (see {@linkcode HyParView.topUp}). */
const TOP_UP_BACKOFF = 1_000;

/** What HyParView needs from its environment. */
export interface HyParViewIO {
  /**
   * Sends a message to a peer, opening a link if needed; may return a promise
   * that settles once the message left (after the dial). A failure must be
   * reported via `failed`.
   */
  send(to: PeerInfo, message: HvMessage): void | Promise<void>;
  /** The link to `peer` is no longer needed (after pending sends). */
  release(peer: PeerId): void;
  /** `peer` entered the active view. */
  neighborUp(peer: PeerInfo): void;
  /** `peer` left the active view. */
  neighborDown(peer: PeerId): void;
  /** The RTT to `peer` in ms (measured or predicted), when known. */
  distance?(peer: PeerId): number | undefined;
  /** Whether a connection to `peer` is open: asking it needs no handshake. */
  connected?(peer: PeerId): boolean;
}

/** The membership state machine of one node. */
export class HyParView {
  /** The active view: current neighbours. */
  readonly active: Map<PeerId, PeerInfo> = new Map();
  /** The passive view: known peers to promote on failures. */
  readonly passive: Map<PeerId, PeerInfo> = new Map();
  #pending = new Map<PeerId, () => void>();
  #refused = new Map<PeerId, number>();
  #self: PeerInfo;
  #config: HyParViewConfig;
  #io: HyParViewIO;
  #clock: Scheduler;
  #random: () => number;
  #admits = ADMIT_BURST;
  #topUpAt = 0;
  #topUpWait = 0;
  #admittedAt = 0;
  #cancelShuffle: () => void = () => {};
  #closed = false;

  /** Creates the state machine and starts the shuffle timer. */
  constructor(
    self: PeerInfo,
    config: Partial<HyParViewConfig>,
    io: HyParViewIO,
    clock: Scheduler,
    random: () => number = Math.random,
  ) {
    this.#self = self;
    this.#config = { ...HYPARVIEW_DEFAULTS, ...config };
    this.#io = io;
    this.#clock = clock;
    this.#random = random;
    this.#scheduleShuffle();
  }

  /** Updates our own addresses (sent in later messages). */
  set self(info: PeerInfo) {
    this.#self = info;
  }

  /** Joins the overlay through `contact`. */
  join(contact: PeerInfo): void {
    if (this.#closed || contact.id === this.#self.id || this.active.has(contact.id)) return;
    // The join goes first: what `neighborUp` sends on the same link (our
    // announcement) must reach a contact that already took us as neighbour,
    // or it drops it and our entry spreads only by anti-entropy.
    this.#io.send(contact, { kind: "join", peer: this.#self });
    this.#addActive(contact, false);
  }

  /** Adds a known peer to the passive view (from the catalog, say); with no neighbour, asks now. */
  learn(peer: PeerInfo): void {
    if (this.#closed) return;
    this.#addPassive(peer);
    if (this.active.size === 0) this.#refill();
  }

  /** Handles a message from an authenticated peer. */
  handle(from: PeerId, m: HvMessage): void {
    if (this.#closed || from === this.#self.id) return;
    switch (m.kind) {
      case "join":
        if (m.peer.id !== from || this.active.has(from)) return;
        this.#addActive(m.peer, false);
        for (
          const p of sample(
            [...this.active.values()].filter((p) => p.id !== from),
            this.#config.joinFanout,
            this.#random,
          )
        ) {
          this.#io.send(p, { kind: "forwardJoin", peer: m.peer, ttl: this.#config.arwl });
        }
        return;
      case "forwardJoin": {
        const x = m.peer;
        if (x.id === this.#self.id || this.active.has(x.id)) return;
        if (m.ttl <= 0 || this.active.size <= 1) return this.#admit(x);
        if (m.ttl === this.#config.prwl) this.#addPassive(x);
        const next = pick(
          [...this.active.values()].filter((p) => p.id !== from && p.id !== x.id),
          this.#random,
        );
        if (!next) return this.#admit(x);
        this.#io.send(next, { kind: "forwardJoin", peer: x, ttl: m.ttl - 1 });
        return;
      }
      case "neighbor": {
        if (m.peer.id !== from) return;
        const cancel = this.#pending.get(from);
        if (this.active.has(from)) {
          cancel?.();
          this.#pending.delete(from);
          return;
        }
        if (cancel) {
          cancel();
          this.#pending.delete(from);
          return this.#addActive(m.peer, false);
        }
        if (
          m.high || this.active.size < this.#config.activeSize ||
          this.#nearest([...this.active.values(), m.peer], this.#config.nearSlots).has(from)
        ) {
          return this.#addActive(m.peer, true);
        }
        this.#io.send(m.peer, { kind: "disconnect", alive: true });
        this.#io.release(from);
        this.#addPassive(m.peer);
        return;
      }
      case "disconnect": {
        // A refusal or an eviction: do not ask that peer again for a while,
        // and only refill at once if we are left without any neighbour (the
        // top-up timer fills the view later), which keeps a join storm at
        // one contact from cascading into evictions everywhere. A refusal
        // also slows the top-ups down: random requests into a network whose
        // views are full are mostly refused, each after a handshake.
        const cancel = this.#pending.get(from);
        cancel?.();
        this.#pending.delete(from);
        this.#refused.set(from, this.#clock.now() + this.#config.shuffleInterval);
        if (cancel) this.#backOff();
        const info = this.active.get(from) ?? this.passive.get(from);
        if (this.active.delete(from)) this.#lost(from);
        this.#io.release(from); // also the link of a refused request
        if (m.alive && info) this.#addPassive(info);
        else this.passive.delete(from);
        if (this.active.size === 0) this.#refill();
        return;
      }
      case "shuffle": {
        if (m.origin.id === this.#self.id) return;
        if (m.ttl > 0 && this.active.size > 1) {
          const next = pick(
            [...this.active.values()].filter((p) => p.id !== from && p.id !== m.origin.id),
            this.#random,
          );
          if (next) {
            this.#io.send(next, { ...m, ttl: m.ttl - 1 });
            return;
          }
        }
        const reply = sample(
          [...this.passive.values()].filter((p) => p.id !== m.origin.id),
          m.nodes.length,
          this.#random,
        );
        this.#io.send(m.origin, { kind: "shuffleReply", nodes: reply });
        if (!this.active.has(m.origin.id) && !this.#pending.has(m.origin.id)) {
          this.#io.release(m.origin.id);
        }
        for (const n of m.nodes) this.#addPassive(n);
        return;
      }
      case "shuffleReply":
        for (const n of m.nodes) this.#addPassive(n);
        if (!this.active.has(from) && !this.#pending.has(from)) this.#io.release(from);
        return;
    }
  }

  /** Whether we keep a link to `peer`: a neighbour, or one we asked to become one. */
  keeps(peer: PeerId): boolean {
    return this.active.has(peer) || this.#pending.has(peer);
  }

  /** The link to `peer` failed (connection lost or a send failed). */
  failed(peer: PeerId): void {
    if (this.#closed) return;
    const cancel = this.#pending.get(peer);
    cancel?.();
    this.#pending.delete(peer);
    this.passive.delete(peer);
    if (this.active.delete(peer)) this.#lost(peer);
    this.#io.release(peer);
    this.#refill();
  }

  /** Tells every neighbour we leave (not alive) and stops. */
  leave(): void {
    for (const p of this.active.values()) this.#io.send(p, { kind: "disconnect", alive: false });
    this.close();
  }

  /** Stops timers. */
  close(): void {
    this.#closed = true;
    this.#cancelShuffle();
    for (const cancel of this.#pending.values()) cancel();
    this.#pending.clear();
  }

  /** Runs one shuffle now (also done periodically). */
  shuffle(): void {
    const target = pick([...this.active.values()], this.#random);
    if (!target) return;
    const nodes = [
      this.#self,
      ...sample(
        [...this.active.values()].filter((p) => p.id !== target.id),
        this.#config.shuffleActive,
        this.#random,
      ),
      ...sample([...this.passive.values()], this.#config.shufflePassive, this.#random),
    ];
    this.#io.send(target, {
      kind: "shuffle",
      origin: this.#self,
      nodes,
      ttl: this.#config.shuffleTtl,
    });
  }

  #scheduleShuffle(): void {
    const base = this.#config.shuffleInterval;
    this.#cancelShuffle = this.#clock.after(base * (0.5 + this.#random()), () => {
      this.shuffle();
      this.#refill();
      this.#approachNearest();
      this.#scheduleShuffle();
    });
  }

  #addActive(peer: PeerInfo, notify: boolean): void {
    if (peer.id === this.#self.id || this.active.has(peer.id)) return;
    this.passive.delete(peer.id);
    this.#refused.delete(peer.id);
    if (this.active.size >= this.#config.activeSize) {
      const near = this.#nearest([...this.active.values(), peer], this.#config.nearSlots);
      const victim = pick([...this.active.values()].filter((p) => !near.has(p.id)), this.#random) ??
        pick([...this.active.values()], this.#random)!;
      this.active.delete(victim.id);
      this.#io.send(victim, { kind: "disconnect", alive: true });
      this.#io.neighborDown(victim.id);
      this.#io.release(victim.id);
      this.#addPassive(victim);
    }
    this.active.set(peer.id, peer);
    this.#io.neighborUp(peer);
    if (notify) this.#io.send(peer, { kind: "neighbor", peer: this.#self, high: true });
  }

  /**
   * Adds a peer a neighbour introduced (a forwardJoin) to the active view,
   * which dials it: at most {@linkcode ADMIT_RATE} a second after a burst of
   * {@linkcode ADMIT_BURST}, the rest to the passive view. Its addresses are
   * whatever the neighbour says, so a hostile one must not make us dial a
   * port, or churn our view, at its own pace.
   */
  #admit(x: PeerInfo): void {
    const now = this.#clock.now();
    const refill = (now - this.#admittedAt) * ADMIT_RATE / 1000;
    this.#admits = Math.min(ADMIT_BURST, this.#admits + refill);
    this.#admittedAt = now;
    if (this.#admits < 1) return this.#addPassive(x);
    this.#admits--;
    this.#addActive(x, true);
  }

  #addPassive(peer: PeerInfo): void {
    if (peer.id === this.#self.id || this.active.has(peer.id)) return;
    if (!this.passive.has(peer.id) && this.passive.size >= this.#config.passiveSize) {
      const victim = pick([...this.passive.keys()], this.#random)!;
      this.passive.delete(victim);
    }
    this.passive.set(peer.id, peer);
  }

  /** The ids of the `k` peers of `peers` with the smallest known distance. */
  #nearest(peers: readonly PeerInfo[], k: number): Set<PeerId> {
    const known = peers.flatMap((p) => {
      const d = this.#io.distance?.(p.id);
      return d === undefined ? [] : [{ id: p.id, d }];
    });
    return new Set(known.sort((a, b) => a.d - b.d).slice(0, k).map((x) => x.id));
  }

  /**
   * Asks the nearest passive peer to become a neighbour when the near slots
   * are not all taken by known peers or it is under half the RTT of the
   * farthest of them. Accepted, it replaces a random non-near neighbour.
   */
  #approachNearest(): void {
    const k = this.#config.nearSlots;
    if (this.#closed || k === 0 || this.#io.distance === undefined) return;
    const now = this.#clock.now();
    const candidates = [...this.passive.values()].filter((p) =>
      !this.#pending.has(p.id) && (this.#refused.get(p.id) ?? 0) <= now
    );
    const [best] = this.#nearest(candidates, 1);
    if (best === undefined) return;
    const distance = (id: PeerId) => this.#io.distance!(id)!;
    const near = [...this.#nearest([...this.active.values()], k)].map(distance);
    if (near.length === k && distance(best) >= Math.max(...near) / 2) return;
    this.#ask(this.passive.get(best)!, false);
  }

  /**
   * Asks one passive peer to become a neighbour if the active view is not
   * full. Called periodically, it fills views gradually instead of in bursts;
   * after a refusal it waits {@linkcode TOP_UP_BACKOFF} ms, doubling with
   * every further refusal up to the shuffle interval, until a neighbour is
   * lost.
   */
  topUp(): void {
    if (this.#clock.now() < this.#topUpAt) return;
    this.#refill(1);
  }

  #backOff(): void {
    this.#topUpWait = Math.min(
      Math.max(TOP_UP_BACKOFF, this.#topUpWait * 2),
      this.#config.shuffleInterval,
    );
    this.#topUpAt = this.#clock.now() + this.#topUpWait;
  }

  /** `peer` left the active view: tell the node, and top up without waiting. */
  #lost(peer: PeerId): void {
    this.#io.neighborDown(peer);
    this.#topUpAt = this.#topUpWait = 0;
  }

  #refill(max = Infinity): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const [id, until] of this.#refused) if (until <= now) this.#refused.delete(id);
    for (
      let n = 0;
      n < max && this.active.size + this.#pending.size < this.#config.activeSize;
      n++
    ) {
      const candidates = [...this.passive.values()].filter((p) =>
        !this.#pending.has(p.id) && (this.#refused.get(p.id) ?? 0) <= now
      );
      const p = pick(this.#cheapest(candidates), this.#random);
      if (!p) return;
      this.#ask(p, this.active.size === 0);
    }
  }

  /**
   * Passive peers to ask first: with under half the active slots taken, those
   * connected already (no handshake, a join storm's main cost: docs/scale.md).
   */
  #cheapest(candidates: PeerInfo[]): PeerInfo[] {
    if (this.active.size * 2 >= this.#config.activeSize) return candidates;
    const open = candidates.filter((p) => this.#io.connected?.(p.id));
    return open.length > 0 ? open : candidates;
  }

  /**
   * Sends a neighbour request to `p`, refusing it for a while if unanswered
   * within `neighborTimeout` of leaving. Timing the dial too would count a
   * slow handshake as a refusal and ask the next peer, dialing it in turn:
   * under load, a cascade of connections no view keeps.
   */
  #ask(p: PeerInfo, high: boolean): void {
    let stopTimer: (() => void) | undefined;
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      stopTimer?.();
    };
    const arm = () => {
      if (cancelled || this.#pending.get(p.id) !== cancel) return;
      stopTimer = this.#clock.after(this.#config.neighborTimeout, () => {
        if (this.#pending.get(p.id) !== cancel) return;
        this.#pending.delete(p.id);
        if (!this.active.has(p.id)) this.#io.release(p.id);
        this.#refused.set(p.id, this.#clock.now() + this.#config.shuffleInterval);
        this.#refill();
      });
    };
    this.#pending.set(p.id, cancel);
    const sent = this.#io.send(p, { kind: "neighbor", peer: this.#self, high });
    if (sent) sent.then(arm);
    else arm();
  }
}
