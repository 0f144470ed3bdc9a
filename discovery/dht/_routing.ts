/**
 * The routing table: a `k-bucket` tree of contacts, where a full bucket
 * pings its oldest contacts and lets a silent one make room, and a contact
 * leaves after two failed queries (BEP 5 "bad").
 *
 * @module
 */
import KBucket from "k-bucket";
import { equalBytes } from "@mosaik/transport";
import type { Contact } from "./types.ts";

interface RoutingContact extends Contact {
  vectorClock: number;
  /** Consecutive queries that failed; the contact is dropped at 2. */
  fails?: number;
}

interface Buckets {
  add(c: RoutingContact): void;
  remove(id: Uint8Array): void;
  get(id: Uint8Array): RoutingContact | null;
  closest(id: Uint8Array, n?: number): RoutingContact[];
  count(): number;
  toArray(): RoutingContact[];
  on(event: "ping", fn: (old: RoutingContact[], incoming: RoutingContact) => void): void;
}

/** The contacts of one node, closest-first queries by XOR distance. */
export class RoutingTable {
  #k: number;
  #ping: (c: Contact) => Promise<unknown>;
  #buckets!: Buckets;
  #id!: Uint8Array;
  #closed = false;

  /** A table around `id` with buckets of `k`; `ping` checks a contact is alive. */
  constructor(id: Uint8Array, k: number, ping: (c: Contact) => Promise<unknown>) {
    this.#k = k;
    this.#ping = ping;
    this.rebuild(id);
  }

  /** Re-centres the table on a new node id, keeping the contacts that fit. */
  rebuild(id: Uint8Array): void {
    const contacts = this.#buckets?.toArray() ?? [];
    this.#id = id;
    const buckets = new KBucket({
      localNodeId: id,
      numberOfNodesPerKBucket: this.#k,
    }) as unknown as Buckets;
    buckets.on("ping", (old, incoming) => this.#evict(old, incoming));
    for (const c of contacts) buckets.add(c);
    this.#buckets = buckets;
  }

  /** Adds or refreshes a contact that answered or queried us. */
  touch(id: Uint8Array, host: string, port: number): void {
    if (equalBytes(id, this.#id)) return;
    this.#buckets.add({ id, host, port, vectorClock: Date.now() });
  }

  /** Counts a failed query; a contact is dropped after two in a row. */
  failed(id: Uint8Array): void {
    const contact = this.#buckets.get(id);
    if (!contact) return;
    contact.fails = (contact.fails ?? 0) + 1;
    if (contact.fails >= 2) this.#buckets.remove(id);
  }

  /** The `n` contacts closest to `target`. */
  closest(target: Uint8Array, n: number): Contact[] {
    return this.#buckets.closest(target, n);
  }

  /** How many contacts the table holds. */
  get size(): number {
    return this.#buckets.count();
  }

  /** Every contact (to persist). */
  contacts(): Contact[] {
    return this.#buckets.toArray().map(({ id, host, port }) => ({ id, host, port }));
  }

  /** Stops evictions (their pings fail once the socket closes). */
  close(): void {
    this.#closed = true;
  }

  /** A full bucket: ping its oldest contacts and let a silent one make room. */
  #evict(old: RoutingContact[], incoming: RoutingContact): void {
    for (const c of old) {
      this.#ping(c).then(
        () => {},
        () => {
          if (this.#closed) return;
          this.#buckets.remove(c.id);
          this.#buckets.add(incoming);
        },
      );
    }
  }
}
