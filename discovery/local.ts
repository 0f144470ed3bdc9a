/**
 * {@linkcode LocalEntry}: this node's own entry. Every change bumps the
 * version, re-signs and re-announces it.
 *
 * @module
 */
import type { GroupId, NetworkId, SecretKey, StreamId, Tag, Ticket } from "@mosaik/transport";
import { nextVersion, type PeerEntry, type SignedPeerEntry, signEntry } from "./entry.ts";
import { type Placement, placementTags } from "./placement.ts";
import type { Coordinate } from "./vivaldi.ts";

/**
 * This node's entry. Mutators that change something re-sign the entry with a
 * newer version and announce it to the network; no-op changes do nothing.
 *
 * @example
 * ```ts ignore
 * discovery.local.addTags(tag("matcher"));
 * discovery.local.entry.tags; // includes the tag; peers see it shortly
 * ```
 */
export class LocalEntry {
  #key: SecretKey;
  #signed: SignedPeerEntry;
  #onChange: (signed: SignedPeerEntry, changed: boolean) => void;
  #coordinate: () => Coordinate | undefined;

  /** @internal Created by {@linkcode Discovery}. */
  constructor(
    key: SecretKey,
    network: NetworkId,
    addresses: string[],
    tags: Tag[],
    onChange: (signed: SignedPeerEntry, changed: boolean) => void,
    where: { placement?: Placement; coordinate?: () => Coordinate | undefined } = {},
  ) {
    this.#key = key;
    this.#onChange = onChange;
    this.#coordinate = where.coordinate ?? (() => undefined);
    const now = Date.now();
    const placement = where.placement && Object.keys(where.placement).length > 0
      ? where.placement
      : undefined;
    this.#signed = signEntry(key, {
      network,
      peerId: key.peerId,
      version: { start: now, counter: now },
      addresses,
      tags: [...tags, ...placementTags(placement ?? {})],
      streams: [],
      groups: [],
      tickets: [],
      ...(placement && { placement }),
      ...this.#coordinateField(),
    });
  }

  #coordinateField(): { coordinate?: Coordinate } {
    const coordinate = this.#coordinate();
    return coordinate ? { coordinate } : {};
  }

  /** The current entry. */
  get entry(): PeerEntry {
    return this.#signed.entry;
  }

  /** The current entry with its signed wire bytes. */
  get signed(): SignedPeerEntry {
    return this.#signed;
  }

  #update(change: Partial<PeerEntry>, force = false): void {
    const old = this.#signed.entry;
    const next = {
      ...old,
      ...change,
      ...this.#coordinateField(),
      version: nextVersion(old.version),
    };
    const candidate = signEntry(this.#key, next);
    const same = sameContent(candidate.entry, old);
    if (!force && same) return;
    this.#signed = candidate;
    this.#onChange(candidate, !same);
  }

  /**
   * Re-signs with a newer version and re-announces (the periodic refresh);
   * this is also when the entry takes the current network coordinate.
   */
  refresh(): void {
    this.#update({}, true);
  }

  /** Replaces the advertised `host:port` addresses. */
  setAddresses(addresses: string[]): void {
    this.#update({ addresses });
  }

  /** Adds tags. */
  addTags(...tags: Tag[]): void {
    this.#update({ tags: [...this.entry.tags, ...tags] });
  }

  /** Removes tags. */
  removeTags(...tags: Tag[]): void {
    this.#update({ tags: this.entry.tags.filter((t) => !tags.includes(t)) });
  }

  /** Advertises that this node produces stream `id`. */
  addStream(id: StreamId): void {
    this.#update({ streams: [...this.entry.streams, id] });
  }

  /** Stops advertising stream `id`. */
  removeStream(id: StreamId): void {
    this.#update({ streams: this.entry.streams.filter((s) => s !== id) });
  }

  /** Advertises that this node consumes stream `id`. */
  addConsumedStream(id: StreamId): void {
    this.#update({ consumes: [...this.entry.consumes ?? [], id] });
  }

  /** Stops advertising that this node consumes stream `id`. */
  removeConsumedStream(id: StreamId): void {
    this.#update({ consumes: (this.entry.consumes ?? []).filter((s) => s !== id) });
  }

  /** Advertises membership of group `id`. */
  addGroup(id: GroupId): void {
    this.#update({ groups: [...this.entry.groups, id] });
  }

  /** Stops advertising membership of group `id`. */
  removeGroup(id: GroupId): void {
    this.#update({ groups: this.entry.groups.filter((g) => g !== id) });
  }

  /** Sets the ticket of `ticket.kind`, replacing any other of that kind. */
  setTicket(ticket: Ticket): void {
    this.#update({
      tickets: [...this.entry.tickets.filter((t) => t.kind !== ticket.kind), ticket],
    });
  }

  /** Removes the ticket of `kind`. */
  removeTicket(kind: string): void {
    this.#update({ tickets: this.entry.tickets.filter((t) => t.kind !== kind) });
  }
}

function sameContent(a: PeerEntry, b: PeerEntry): boolean {
  const eq = (x: readonly string[], y: readonly string[]) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.addresses, b.addresses) && eq(a.tags, b.tags) && eq(a.streams, b.streams) &&
    eq(a.consumes ?? [], b.consumes ?? []) &&
    eq(a.groups, b.groups) && a.tickets.length === b.tickets.length &&
    a.tickets.every((t, i) => {
      const u = b.tickets[i];
      return t.kind === u.kind && t.expiresAt === u.expiresAt && t.data.length === u.data.length &&
        t.data.every((x, j) => x === u.data[j]);
    });
}
