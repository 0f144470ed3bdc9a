/**
 * Plumtree epidemic broadcast trees (Leitão, Pereira, Rodrigues, SRDS 2007)
 * as a message-driven state machine: payloads go eagerly along a spanning
 * tree, other neighbours get lazy IHAVE notices, duplicates PRUNE a link to
 * lazy, and a missing payload GRAFTs a lazy link back into the tree.
 * `mode: "flood"` turns it into naive flooding (every neighbour eager, no
 * pruning), the baseline the tests and the bench measure against.
 *
 * @module
 */
import { copyBytes, dropOldest, type PeerId } from "@mosaik/transport";
import type { Scheduler } from "./_scheduler.ts";

/** Plumtree messages. Ids are lowercase hex. */
export type PtMessage =
  | { kind: "gossip"; id: string; round: number; payload: Uint8Array }
  | { kind: "ihave"; entries: [id: string, round: number][] }
  | { kind: "graft"; ids: string[] }
  | { kind: "prune" };

/** Plumtree timers and mode. */
export interface PlumtreeConfig {
  /** `"plumtree"` (default) or `"flood"` (naive flooding, for comparison). */
  mode: "plumtree" | "flood";
  /** Milliseconds IHAVE notices are batched. Default 5. */
  ihaveDelay: number;
  /** Milliseconds to wait for a payload after the first IHAVE before grafting. Default 80. */
  graftTimeout1: number;
  /** Milliseconds before grafting the next announcer. Default 40. */
  graftTimeout2: number;
  /** Milliseconds payloads stay cached for grafts. Default 30 000. */
  payloadRetention: number;
  /** Milliseconds ids are remembered to suppress duplicates. Default 90 000. */
  idRetention: number;
}

/** Defaults of {@linkcode PlumtreeConfig}. */
export const PLUMTREE_DEFAULTS: PlumtreeConfig = {
  mode: "plumtree",
  ihaveDelay: 5,
  graftTimeout1: 80,
  graftTimeout2: 40,
  payloadRetention: 30_000,
  idRetention: 90_000,
};

/** What Plumtree needs from its environment. */
export interface PlumtreeIO {
  /** Sends a message to a neighbour. */
  send(to: PeerId, message: PtMessage): void;
  /**
   * Hands a new payload to the application; `false` (or a promise of it)
   * drops it: it is then neither cached nor forwarded.
   */
  deliver(payload: Uint8Array, from: PeerId): boolean | Promise<boolean>;
  /**
   * Whether the application refuses a payload at a glance, before its id is
   * computed (a hash): it is then neither remembered, delivered, cached nor
   * forwarded.
   */
  refuse?(payload: Uint8Array, from: PeerId): boolean;
  /** The message id of a payload. */
  id(payload: Uint8Array): string;
}

interface Missing {
  announcers: PeerId[];
  cancel?: () => void;
}

const MAX_IHAVE = 256;
/** Ids awaited after an IHAVE (a neighbour announcing made-up ids gets no more). */
const MAX_MISSING = 1024;
/** Ids remembered to suppress duplicates (about 7 minutes of a 10,000-peer network's refreshes). */
const MAX_SEEN = 100_000;
/** Bytes of payloads cached for grafts. */
const MAX_CACHE_BYTES = 16 << 20;
/** Ids announced to one lazy neighbour that it may still graft. */
const MAX_GRAFTABLE = 1024;
/**
 * Milliseconds a neighbour that left still gets its payloads accepted: what it
 * sent before it learned it was dropped (a joiner's first announcement, when
 * its contact evicts it during a join storm) is still on the way.
 */
const FORMER_GRACE = 2_000;
/** Former neighbours remembered at most. */
const MAX_FORMER = 64;

/** The broadcast state machine of one node. */
export class Plumtree {
  /** Neighbours that get payloads. */
  readonly eager: Set<PeerId> = new Set();
  /** Neighbours that get IHAVE notices. */
  readonly lazy: Set<PeerId> = new Set();
  #config: PlumtreeConfig;
  #io: PlumtreeIO;
  #clock: Scheduler;
  #cache = new Map<string, { payload: Uint8Array; round: number; at: number }>();
  #cacheBytes = 0;
  #seen = new Map<string, number>();
  /** Ids of {@linkcode Plumtree.markKnown}: their copies prune no link. */
  #known = new Set<string>();
  #missing = new Map<string, Missing>();
  #queue = new Map<PeerId, [string, number][]>();
  /** Per lazy neighbour, the ids we sent it in IHAVEs and it has not grafted yet. */
  #graftable = new Map<PeerId, Set<string>>();
  /** Neighbours that left, until when their payloads are still accepted. */
  #former = new Map<PeerId, number>();
  #cancelFlush: (() => void) | undefined;
  #closed = false;

  /** Creates the state machine. */
  constructor(config: Partial<PlumtreeConfig>, io: PlumtreeIO, clock: Scheduler) {
    this.#config = { ...PLUMTREE_DEFAULTS, ...config };
    this.#io = io;
    this.#clock = clock;
  }

  /**
   * Broadcasts a payload of our own; returns its id. With `toAll`, lazy
   * neighbours get the payload too (used for a departure, when there is no
   * time left for grafts).
   */
  broadcast(payload: Uint8Array, toAll = false): string {
    const id = this.#io.id(payload);
    if (this.#seen.has(id)) return id;
    this.#expire();
    this.#remember(id);
    this.#keep(id, payload, 0);
    if (toAll) {
      for (const p of this.lazy) this.#io.send(p, { kind: "gossip", id, round: 0, payload });
    }
    this.#push(id, 0, payload, undefined, toAll);
    return id;
  }

  /** `peer` entered the active view: it starts as an eager (tree) link. */
  neighborUp(peer: PeerId): void {
    this.#former.delete(peer);
    if (!this.lazy.has(peer)) this.eager.add(peer);
  }

  #recentlyLeft(peer: PeerId): boolean {
    const until = this.#former.get(peer);
    if (until === undefined) return false;
    if (until > this.#clock.now()) return true;
    this.#former.delete(peer);
    return false;
  }

  /** `peer` left the active view. */
  neighborDown(peer: PeerId): void {
    if (this.eager.has(peer) || this.lazy.has(peer)) {
      this.#former.delete(peer);
      this.#former.set(peer, this.#clock.now() + FORMER_GRACE);
      dropOldest(this.#former, MAX_FORMER);
    }
    this.eager.delete(peer);
    this.lazy.delete(peer);
    this.#queue.delete(peer);
    this.#graftable.delete(peer);
    for (const m of this.#missing.values()) m.announcers = m.announcers.filter((p) => p !== peer);
  }

  /**
   * Handles a message from a peer. Refuses (and says why) messages from
   * non-neighbours and payloads whose id is not the id of their content, so
   * a replay under fresh ids is still a duplicate. Payloads of a neighbour
   * that left less than {@linkcode FORMER_GRACE} ago are still taken.
   */
  handle(from: PeerId, m: PtMessage): "not-neighbour" | "wrong-id" | undefined {
    const neighbor = this.eager.has(from) || this.lazy.has(from);
    if (!neighbor && m.kind !== "prune" && !(m.kind === "gossip" && this.#recentlyLeft(from))) {
      return "not-neighbour";
    }
    switch (m.kind) {
      case "gossip": {
        if (this.#io.refuse?.(m.payload, from)) return;
        if (this.#io.id(m.payload) !== m.id) return "wrong-id";
        if (this.#seen.has(m.id)) {
          if (this.#config.mode === "plumtree" && this.eager.has(from) && !this.#known.has(m.id)) {
            this.eager.delete(from);
            this.lazy.add(from);
            this.#io.send(from, { kind: "prune" });
          }
          return;
        }
        this.#expire();
        this.#remember(m.id);
        const missing = this.#missing.get(m.id);
        missing?.cancel?.();
        this.#missing.delete(m.id);
        const accept = (valid: boolean) => {
          if (!valid || this.#closed) return;
          this.#keep(m.id, m.payload, m.round);
          if (this.eager.has(from) || this.lazy.has(from)) {
            this.lazy.delete(from);
            this.eager.add(from);
          }
          this.#push(m.id, m.round + 1, m.payload, from);
        };
        const valid = this.#io.deliver(m.payload, from);
        if (typeof valid === "boolean") accept(valid);
        else valid.then(accept, () => {});
        return;
      }
      case "ihave":
        for (const [id] of m.entries.slice(0, MAX_IHAVE)) {
          if (this.#seen.has(id)) continue;
          let missing = this.#missing.get(id);
          if (!missing) {
            if (this.#missing.size >= MAX_MISSING) break;
            this.#missing.set(id, missing = { announcers: [] });
          }
          if (!missing.announcers.includes(from)) missing.announcers.push(from);
          if (!missing.cancel) {
            missing.cancel = this.#clock.after(this.#config.graftTimeout1, () => this.#graft(id));
          }
        }
        return;
      case "graft":
        this.lazy.delete(from);
        this.eager.add(from);
        // Only ids we announced to it, each once: a GRAFT of 256 ids must
        // not buy 256 cached payloads again and again.
        for (const id of m.ids.slice(0, MAX_IHAVE)) {
          if (!this.#graftable.get(from)?.delete(id)) continue;
          const c = this.#cache.get(id);
          if (c) this.#io.send(from, { kind: "gossip", id, round: c.round, payload: c.payload });
        }
        return;
      case "prune":
        if (this.#config.mode === "plumtree" && this.eager.delete(from)) this.lazy.add(from);
        return;
    }
  }

  /**
   * The content of payload `id` arrived by other means (a catalog sync
   * brought the entry): a copy arriving later is neither delivered nor
   * forwarded, and prunes no link, as the tree did not carry it twice. In a
   * join storm most broadcasts arrive after a sync brought their entry;
   * forwarding them on cost 200 nodes of one process about a quarter of
   * their convergence time. Naive flooding (`mode: "flood"`, the baseline)
   * forwards every payload it had not received before, so there it does
   * nothing.
   */
  markKnown(id: string): void {
    if (this.#config.mode === "flood" || this.#seen.has(id)) return;
    this.#expire();
    this.#remember(id);
    this.#known.add(id);
    dropOldest(this.#known, MAX_SEEN);
    this.#missing.get(id)?.cancel?.();
    this.#missing.delete(id);
  }

  /** Cancels timers. */
  close(): void {
    this.#closed = true;
    this.#cancelFlush?.();
    for (const m of this.#missing.values()) m.cancel?.();
    this.#missing.clear();
  }

  #graft(id: string): void {
    const missing = this.#missing.get(id);
    if (!missing || this.#seen.has(id)) {
      this.#missing.delete(id);
      return;
    }
    const peer = missing.announcers.shift();
    if (!peer) {
      this.#missing.delete(id);
      return;
    }
    this.lazy.delete(peer);
    this.eager.add(peer);
    this.#io.send(peer, { kind: "graft", ids: [id] });
    missing.cancel = this.#clock.after(this.#config.graftTimeout2, () => this.#graft(id));
  }

  #push(
    id: string,
    round: number,
    payload: Uint8Array,
    from: PeerId | undefined,
    skipLazy = false,
  ): void {
    for (const p of this.eager) {
      if (p !== from) this.#io.send(p, { kind: "gossip", id, round, payload });
    }
    if (skipLazy) return;
    for (const p of this.lazy) {
      if (p === from) continue;
      let q = this.#queue.get(p);
      if (!q) this.#queue.set(p, q = []);
      q.push([id, round]);
    }
    if (this.#queue.size > 0 && !this.#cancelFlush) {
      this.#cancelFlush = this.#clock.after(this.#config.ihaveDelay, () => this.#flush());
    }
  }

  #flush(): void {
    this.#cancelFlush = undefined;
    for (const [peer, entries] of this.#queue) {
      let graftable = this.#graftable.get(peer);
      if (!graftable) this.#graftable.set(peer, graftable = new Set());
      for (const [id] of entries) {
        graftable.add(id);
        dropOldest(graftable, MAX_GRAFTABLE);
      }
      for (let i = 0; i < entries.length; i += MAX_IHAVE) {
        this.#io.send(peer, { kind: "ihave", entries: entries.slice(i, i + MAX_IHAVE) });
      }
    }
    this.#queue.clear();
  }

  #remember(id: string): void {
    this.#seen.set(id, this.#clock.now());
    dropOldest(this.#seen, MAX_SEEN);
  }

  #keep(id: string, payload: Uint8Array, round: number): void {
    // A copy: a received payload is a view of the read it arrived in (up to 64 KiB).
    this.#cache.set(id, { payload: copyBytes(payload), round, at: this.#clock.now() });
    this.#cacheBytes += payload.length;
    while (this.#cacheBytes > MAX_CACHE_BYTES) this.#uncache(this.#cache.keys().next().value!);
  }

  #uncache(id: string): void {
    this.#cacheBytes -= this.#cache.get(id)?.payload.length ?? 0;
    this.#cache.delete(id);
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [id, c] of this.#cache) {
      if (c.at + this.#config.payloadRetention > now) break;
      this.#uncache(id);
    }
    for (const [id, at] of this.#seen) {
      if (at + this.#config.idRetention > now) break;
      this.#seen.delete(id);
      this.#known.delete(id);
    }
  }
}
