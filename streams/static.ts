/**
 * A fixed peer list that satisfies {@linkcode StreamsDiscovery}: streams
 * without gossip, for tests, demos and deployments that know their peers.
 *
 * @module
 */
import type { PeerId, StreamId, Tag } from "@mosaik/transport";
import type {
  StreamsCatalog,
  StreamsCatalogEvent,
  StreamsDiscovery,
  StreamsPeerEntry,
} from "./peer.ts";

/**
 * A hand-maintained catalog. Link several with {@linkcode StaticDiscovery.link}
 * and each one's `local` changes (streams added or removed, tags) show up in
 * the others' catalogs at once.
 *
 * @example
 * ```ts ignore
 * const a = new StaticDiscovery({ peerId: ea.peerId, addresses: [ea.hostPort] });
 * const b = new StaticDiscovery({ peerId: eb.peerId, addresses: [eb.hostPort] });
 * StaticDiscovery.link(a, b);
 * const streamsA = new Streams(ea, a);
 * ```
 */
export class StaticDiscovery implements StreamsDiscovery {
  readonly #peers = new Map<PeerId, StreamsPeerEntry>();
  readonly #listeners = new Set<(e: StreamsCatalogEvent) => void>();
  readonly #linked = new Set<StaticDiscovery>();
  readonly #rtts = new Map<PeerId, number>();
  #self: StreamsPeerEntry;
  #counter = 0;
  readonly #start = Date.now();

  /** Creates the discovery of one node, described by its own entry. */
  constructor(
    self: {
      peerId: PeerId;
      addresses: readonly string[];
      tags?: readonly Tag[];
    },
  ) {
    this.#self = {
      peerId: self.peerId,
      addresses: [...self.addresses],
      tags: [...(self.tags ?? [])],
      streams: [],
      tickets: [],
      version: { start: this.#start, counter: 0 },
    };
  }

  /** Links discoveries both ways: each learns the others' entries and later changes. */
  static link(...nodes: StaticDiscovery[]): void {
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        a.#linked.add(b);
        b.put(a.#self);
      }
    }
  }

  /** The catalog of other peers. */
  readonly catalog: StreamsCatalog = {
    get: (peer) => this.#peers.get(peer),
    withStream: (id) => [...this.#peers.values()].filter((e) => e.streams.includes(id)),
    subscribe: (fn) => {
      this.#listeners.add(fn);
      return () => this.#listeners.delete(fn);
    },
  };

  /** This node's own entry. */
  readonly local: {
    readonly entry: StreamsPeerEntry;
    addStream(id: StreamId): void;
    removeStream(id: StreamId): void;
    update(change: Partial<Omit<StreamsPeerEntry, "peerId" | "version">>): void;
  } = this.#makeLocal();

  #makeLocal(): StaticDiscovery["local"] {
    // deno-lint-ignore no-this-alias
    const node = this;
    return {
      get entry() {
        return node.#self;
      },
      addStream: (id) => {
        if (!this.#self.streams.includes(id)) {
          this.#change({ streams: [...this.#self.streams, id] });
        }
      },
      removeStream: (id) => {
        if (this.#self.streams.includes(id)) {
          this.#change({ streams: this.#self.streams.filter((s) => s !== id) });
        }
      },
      update: (change) => this.#change(change),
    };
  }

  /** The round-trip time set for a peer with {@linkcode StaticDiscovery.setRtt}, if any. */
  rtt(peer: PeerId): { ms: number; source: "measured" } | undefined {
    const ms = this.#rtts.get(peer);
    return ms === undefined ? undefined : { ms, source: "measured" };
  }

  /**
   * Fixes the round-trip time streams use for a peer (ms), instead of their
   * own measurement; emits an `updated` event so consumers re-rank.
   */
  setRtt(peer: PeerId, ms: number): void {
    this.#rtts.set(peer, ms);
    const entry = this.#peers.get(peer);
    if (entry) { for (const fn of this.#listeners) fn({ type: "updated", entry }); }
  }

  /** Adds or replaces a peer's entry (emits `discovered` or `updated`). */
  put(entry: StreamsPeerEntry): void {
    const type = this.#peers.has(entry.peerId) ? "updated" : "discovered";
    this.#peers.set(entry.peerId, entry);
    for (const fn of this.#listeners) fn({ type, entry });
  }

  /** Removes a peer (emits `departed`). */
  remove(peer: PeerId): void {
    const entry = this.#peers.get(peer);
    if (!entry) return;
    this.#peers.delete(peer);
    for (const fn of this.#listeners) fn({ type: "departed", entry });
  }

  /** Stops announcing this node to linked discoveries (they see it depart). */
  depart(): void {
    for (const other of this.#linked) {
      other.remove(this.#self.peerId);
      other.#linked.delete(this);
    }
    this.#linked.clear();
  }

  #change(change: Partial<Omit<StreamsPeerEntry, "peerId" | "version">>): void {
    this.#self = {
      ...this.#self,
      ...change,
      version: { start: this.#start, counter: ++this.#counter },
    };
    for (const other of this.#linked) other.put(this.#self);
  }
}
