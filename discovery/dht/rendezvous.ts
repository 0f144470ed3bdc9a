/**
 * Rendezvous for a NetworkId on the Mainline DHT: self-certifying peer
 * records and several rendezvous keys, so that no writer can erase the
 * rendezvous for everyone. The scheme is described in the package doc
 * (`mod.ts`).
 *
 * @module
 */
import {
  DecodeError,
  derive,
  digestBytes,
  type NetworkId,
  parseHostPort,
  type PeerId,
  peerIdFromBytes,
  peerIdToBytes,
  type SecretKey,
} from "@mosaik/transport";
import { type BDict, encodeBencode, isDict } from "./bencode.ts";
import { type MutableItem, signItem, verifyItem } from "./bep44.ts";
import { ErrorCode, KrpcError } from "./krpc.ts";
import { specifyHost } from "../_addresses.ts";
import type { DhtNode } from "./node.ts";

/** The KRPC extension method a mosaik DHT node answers with its signed record. */
export const RECORD_METHOD = "mosaik_record";
/** Most addresses a record carries. */
export const MAX_RECORD_ADDRESSES = 16;

/** The DHT keys of a network: the record salt and the rendezvous infohashes. */
export interface RendezvousKeys {
  /** BEP 44 salt of every peer record in this network (32 bytes). */
  salt: Uint8Array;
  /** Infohashes that members announce themselves on (20 bytes each). */
  infohashes: Uint8Array[];
}

/**
 * Derives a network's rendezvous keys: `salt = derive(N, "mosaik/dht/record/v1")`
 * and `infohash[j] = derive(N, "mosaik/dht/rendezvous/v1/" + j)[0..20]`.
 *
 * @example
 * ```ts
 * import { networkId } from "@mosaik/transport";
 * import { rendezvousKeys } from "@mosaik/discovery/dht";
 * const { salt, infohashes } = rendezvousKeys(networkId("my-app"), 4);
 * console.assert(salt.length === 32 && infohashes.length === 4);
 * ```
 */
export function rendezvousKeys(network: NetworkId, count = 4): RendezvousKeys {
  return {
    salt: digestBytes(derive(network, "mosaik/dht/record/v1")),
    infohashes: Array.from(
      { length: count },
      (_, j) => digestBytes(derive(network, `mosaik/dht/rendezvous/v1/${j}`)).slice(0, 20),
    ),
  };
}

/** A verified peer record: who signed it and where it listens. */
export interface PeerRecord {
  /** The signer, which is the peer itself. */
  peerId: PeerId;
  /** QUIC addresses, `host:port`. */
  addresses: string[];
  /** Sequence number (milliseconds since the epoch at publication). */
  seq: number;
}

const td = new TextDecoder();

/**
 * Signs a record for `addresses` with the peer's own key, as a BEP 44 mutable
 * item under `salt`: `v = { a: [addresses] }`.
 */
export function signRecord(
  key: SecretKey,
  addresses: string[],
  seq: number,
  salt: Uint8Array,
): MutableItem {
  return signItem(key, { a: addresses.slice(0, MAX_RECORD_ADDRESSES) }, seq, salt);
}

/**
 * Checks a record's signature against its own key and salt, and its shape;
 * throws a {@linkcode DecodeError} when anything is wrong.
 */
export function verifyRecord(r: BDict, salt: Uint8Array): PeerRecord {
  const { k, seq, sig, v } = r;
  if (!(k instanceof Uint8Array) || k.length !== 32) throw new DecodeError("record: bad key");
  if (typeof seq !== "number" || !(sig instanceof Uint8Array) || !isDict(v)) {
    throw new DecodeError("record: bad fields");
  }
  if (!verifyItem(k, seq, encodeBencode(v), sig, salt)) {
    throw new DecodeError("record: bad signature");
  }
  const list = v.a;
  if (!Array.isArray(list) || list.length > MAX_RECORD_ADDRESSES) {
    throw new DecodeError("record: bad address list");
  }
  const addresses: string[] = [];
  for (const a of list) {
    if (!(a instanceof Uint8Array) || a.length > 64) continue;
    const text = td.decode(a);
    try {
      parseHostPort(text);
      addresses.push(text);
    } catch { /* skip a malformed address */ }
  }
  return { peerId: peerIdFromBytes(k), addresses, seq };
}

/** Options of {@linkcode Rendezvous}. */
export interface RendezvousOptions {
  /** How many rendezvous infohashes. Default 4. */
  keys?: number;
  /** Most announced endpoints asked for their record per round. Default 128. */
  budget?: number;
  /**
   * Milliseconds to wait for a record from an endpoint. Default: eight
   * smoothed RTTs of the DHT node, between 100 and 1000.
   */
  timeout?: number;
}

/**
 * One node's side of the rendezvous: publishes its record and finds the
 * records of others. {@linkcode dhtBootstrap} drives it on a schedule.
 *
 * @example
 * ```ts ignore
 * import { networkId, SecretKey } from "@mosaik/transport";
 * import { DhtNode, Rendezvous } from "@mosaik/discovery/dht";
 * const node = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: ["127.0.0.1:6881"] });
 * await node.bootstrap();
 * const rv = new Rendezvous(node, networkId("my-app"), SecretKey.generate());
 * rv.setAddresses(["127.0.0.1:4433"]);
 * await rv.announce();
 * const records = await rv.discover();
 * ```
 */
export class Rendezvous {
  /** The network's DHT keys. */
  readonly keys: RendezvousKeys;
  /** Records that failed verification (dropped). */
  invalid = 0;
  readonly #node: DhtNode;
  readonly #key: SecretKey;
  readonly #budget: number;
  readonly #timeout: number | undefined;
  readonly #backoff = new Map<string, { failures: number; until: number }>();
  readonly #known = new Map<string, PeerRecord>();
  #record?: MutableItem;
  #addresses: string[] = [];
  #round = 0;

  /** Prepares the rendezvous and starts answering {@linkcode RECORD_METHOD} queries. */
  constructor(node: DhtNode, network: NetworkId, key: SecretKey, options: RendezvousOptions = {}) {
    this.#node = node;
    this.#key = key;
    this.keys = rendezvousKeys(network, options.keys ?? 4);
    this.#budget = options.budget ?? 128;
    this.#timeout = options.timeout;
    node.handle(RECORD_METHOD, (args) => {
      const salt = args.salt;
      if (!this.#record || !(salt instanceof Uint8Array) || !sameBytes(salt, this.keys.salt)) {
        return new KrpcError(ErrorCode.Generic, "no record for this network");
      }
      const { k, seq, sig, v } = this.#record;
      return { k, seq, sig, v };
    });
  }

  /** The addresses in our record, as last set. */
  get addresses(): string[] {
    return this.#addresses;
  }

  /** Sets our QUIC addresses; re-signs the record (seq = now, strictly increasing). True when they changed. */
  setAddresses(addresses: string[]): boolean {
    const next = addresses.slice(0, MAX_RECORD_ADDRESSES);
    if (this.#record && next.join(" ") === this.#addresses.join(" ")) return false;
    this.#addresses = next;
    const seq = Math.max(Date.now(), (this.#record?.seq ?? 0) + 1);
    this.#record = signRecord(this.#key, next, seq, this.keys.salt);
    return true;
  }

  /** Announces this node's DHT endpoint on every rendezvous infohash; returns the peers seen. */
  async announce(): Promise<string[]> {
    const results = await Promise.all(this.keys.infohashes.map((ih) => this.#node.announce(ih)));
    return results.flatMap((r) => r.peers);
  }

  /** Stores our record in the DHT under our own key (for {@linkcode Rendezvous.resolve}). */
  async publish(): Promise<number> {
    if (!this.#record) return 0;
    return (await this.#node.putMutable(this.#record)).stored;
  }

  /** Looks up a peer's record in the DHT by its PeerId (no announce needed). */
  async resolve(peer: PeerId): Promise<PeerRecord | undefined> {
    const item = await this.#node.getMutable(peerIdToBytes(peer), { salt: this.keys.salt });
    if (!item) return undefined;
    try {
      return verifyRecord({ k: item.k, seq: item.seq, sig: item.sig, v: item.v }, this.keys.salt);
    } catch {
      this.invalid++;
      return undefined;
    }
  }

  /**
   * One discovery round: finds endpoints announced on the rendezvous
   * infohashes (optionally announcing ourselves in the same lookups), asks
   * up to `budget` of them for their record in parallel, and returns the
   * valid records that are new or newer than before. Endpoints that fail are
   * retried with exponential backoff, so garbage cannot use up every round.
   * `onRecord` sees each of those records as soon as it is verified, without
   * waiting for slow endpoints.
   */
  async discover(
    options: { announce?: boolean; onRecord?: (record: PeerRecord) => void } = {},
  ): Promise<PeerRecord[]> {
    this.#round++;
    const lookups = this.keys.infohashes.map((ih) =>
      options.announce ? this.#node.announce(ih) : this.#node.getPeers(ih)
    );
    const endpoints = new Set((await Promise.all(lookups)).flatMap((r) => r.peers));
    endpoints.delete(`127.0.0.1:${this.#node.port}`);
    endpoints.delete(this.#node.address);
    const fresh: string[] = [], retry: string[] = [];
    for (const e of endpoints) {
      const b = this.#backoff.get(e);
      if (!b) fresh.push(e);
      else if (b.until <= this.#round) retry.push(e);
    }
    const chosen = [...shuffle(fresh), ...shuffle(retry)].slice(0, this.#budget);
    const found: PeerRecord[] = [];
    const timeout = this.#timeout ?? Math.min(1000, Math.max(100, 8 * this.#node.rtt));
    await Promise.all(chosen.map(async (endpoint) => {
      let record: PeerRecord;
      try {
        const r = await this.#node.query(endpoint, RECORD_METHOD, { salt: this.keys.salt }, {
          retries: 0,
          timeout,
        });
        record = verifyRecord(r, this.keys.salt);
        record.addresses = record.addresses.map((a) =>
          specifyHost(a, parseHostPort(endpoint).hostname)
        );
      } catch (e) {
        if (e instanceof DecodeError) this.invalid++;
        const failures = (this.#backoff.get(endpoint)?.failures ?? 0) + 1;
        this.#backoff.set(endpoint, { failures, until: this.#round + 2 ** Math.min(failures, 6) });
        return;
      }
      // Answered: ask again only after a while (it may restart with new addresses).
      this.#backoff.set(endpoint, { failures: 0, until: this.#round + 4 });
      if (record.peerId === this.#key.peerId) return;
      const before = this.#known.get(record.peerId);
      if (before && before.seq >= record.seq) return;
      this.#known.set(record.peerId, record);
      found.push(record);
      options.onRecord?.(record);
    }));
    if (this.#backoff.size > 4096) this.#backoff.clear();
    if (this.#known.size > 4096) this.#known.clear();
    return found;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}
