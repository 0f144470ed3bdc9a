/**
 * What a node stores for others: announced peers per infohash and BEP 44
 * items, both bounded, written only with a token bound to the writer's IP
 * (from a rotating secret).
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { dropOldest, equalBytes, remember, toHex } from "@mosaik/transport";
import { type BDict, decodeBencode, encodeBencode } from "./bencode.ts";
import { isExempt } from "./bep42.ts";
import { MAX_SALT_SIZE, MAX_VALUE_SIZE, mutableTarget, verifyItem } from "./bep44.ts";
import { decodePeer, encodePeer, ErrorCode, KrpcError } from "./krpc.ts";
import type { DhtStats } from "./types.ts";

interface StoredItem {
  v: Uint8Array; // encoded value
  k?: Uint8Array;
  seq?: number;
  sig?: Uint8Array;
  expires: number;
}

const ITEM_TTL = 2 * 60 * 60_000;
const PEER_TTL = 30 * 60_000;
const SECRET_ROTATION = 5 * 60_000;
const MAX_PEERS_PER_INFOHASH = 200;
const MAX_PEERS_PER_IP = 8;

/** A required bytes argument of a query; a protocol error if it is missing or malformed. */
export function bytesArg(a: BDict, key: string, length?: number): Uint8Array {
  const v = a[key];
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
    throw new KrpcError(ErrorCode.Protocol, `missing or malformed argument ${key}`);
  }
  return v;
}

/** The storage server of one node (`get_peers`, `announce_peer`, `get`, `put`). */
export class DhtStorage {
  readonly #stats: DhtStats;
  readonly #maxItems: number;
  readonly #maxInfohashes: number;
  readonly #items = new Map<string, StoredItem>();
  readonly #peers = new Map<string, Map<string, number>>();
  readonly #rotation: ReturnType<typeof setInterval>;
  #secrets = [
    crypto.getRandomValues(new Uint8Array(16)),
    crypto.getRandomValues(new Uint8Array(16)),
  ];

  /** Storage holding at most `maxItems` items and `maxInfohashes` announced infohashes. */
  constructor(stats: DhtStats, options: { maxItems: number; maxInfohashes: number }) {
    this.#stats = stats;
    this.#maxItems = options.maxItems;
    this.#maxInfohashes = options.maxInfohashes;
    this.#rotation = setInterval(() => {
      this.#secrets = [crypto.getRandomValues(new Uint8Array(16)), this.#secrets[0]];
    }, SECRET_ROTATION);
  }

  /** Stops the secret rotation. */
  close(): void {
    clearInterval(this.#rotation);
  }

  /** The write token for `host` (valid for two rotations). */
  token(host: string): Uint8Array {
    return this.#token(host, this.#secrets[0]);
  }

  #token(host: string, secret: Uint8Array): Uint8Array {
    const ip = new TextEncoder().encode(host);
    const buf = new Uint8Array(ip.length + secret.length);
    buf.set(ip);
    buf.set(secret, ip.length);
    return sha1(buf).subarray(0, 8);
  }

  #validToken(host: string, token: Uint8Array): boolean {
    return this.#secrets.some((s) => equalBytes(this.#token(host, s), token));
  }

  /** `get_peers`: a token and the peers announced for the infohash (a random sample). */
  getPeers(a: BDict, host: string): BDict {
    const infohash = bytesArg(a, "info_hash", 20);
    const r: BDict = { token: this.token(host) };
    const peers = this.#livePeers(toHex(infohash));
    if (peers.length > 0) r.values = peers.slice(0, 50);
    return r;
  }

  /** `announce_peer`: records the sender's IP with the announced (or its own) port. */
  announcePeer(a: BDict, host: string, port: number): BDict | KrpcError {
    const infohash = bytesArg(a, "info_hash", 20);
    if (!this.#validToken(host, bytesArg(a, "token"))) {
      return new KrpcError(ErrorCode.Protocol, "bad token");
    }
    const announced = a.implied_port === 1 ? port : a.port;
    if (typeof announced !== "number" || announced < 1 || announced > 65535) {
      return new KrpcError(ErrorCode.Protocol, "bad port");
    }
    const compact = encodePeer(host, announced);
    if (compact) this.#storePeer(toHex(infohash), compact);
    return {};
  }

  #livePeers(key: string): Uint8Array[] {
    const set = this.#peers.get(key);
    if (!set) return [];
    const now = Date.now();
    const out: Uint8Array[] = [];
    for (const [hex, expires] of set) {
      if (expires < now) set.delete(hex);
      else out.push(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)));
    }
    // Random order so a flood of entries cannot hide the others for good.
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  #storePeer(key: string, compact: Uint8Array): void {
    let set = this.#peers.get(key);
    if (!set) {
      remember(this.#peers, key, set = new Map(), this.#maxInfohashes);
    }
    const hex = toHex(compact);
    set.delete(hex);
    set.set(hex, Date.now() + PEER_TTL);
    // Bound per infohash, and per IP so one host cannot push everyone out.
    const ipHex = hex.slice(0, hex.length - 4); // the address without the port
    const sameIp = [...set.keys()].filter((h) => h.startsWith(ipHex));
    const host = decodePeer(compact).host;
    if (!isExempt(host) && sameIp.length > MAX_PEERS_PER_IP) set.delete(sameIp[0]);
    dropOldest(set, MAX_PEERS_PER_INFOHASH);
  }

  /** `get`: a token and the item stored at the target, if any (mutable: only if newer than `seq`). */
  get(a: BDict, host: string): BDict {
    const target = bytesArg(a, "target", 20);
    const r: BDict = { token: this.token(host) };
    const key = toHex(target);
    const item = this.#items.get(key);
    if (!item) return r;
    if (item.expires < Date.now()) {
      this.#items.delete(key);
      return r;
    }
    if (item.k) {
      r.seq = item.seq!;
      if (typeof a.seq === "number" && item.seq! <= a.seq) return r;
      r.k = item.k;
      r.sig = item.sig!;
    }
    r.v = decodeBencode(item.v);
    return r;
  }

  /** `put`: stores an immutable item, or a mutable one with a valid signature, seq and cas. */
  put(a: BDict, host: string): BDict | KrpcError {
    if (!this.#validToken(host, bytesArg(a, "token"))) {
      return new KrpcError(ErrorCode.Protocol, "bad token");
    }
    if (a.v === undefined) return new KrpcError(ErrorCode.Protocol, "missing v");
    const encoded = encodeBencode(a.v);
    if (encoded.length > MAX_VALUE_SIZE) return new KrpcError(ErrorCode.ValueTooBig, "v too big");
    let key: string;
    let item: StoredItem;
    const expires = Date.now() + ITEM_TTL;
    if (a.k !== undefined || a.sig !== undefined) {
      const k = bytesArg(a, "k", 32);
      const sig = bytesArg(a, "sig", 64);
      const seq = a.seq;
      if (typeof seq !== "number" || seq < 0) return new KrpcError(ErrorCode.Protocol, "bad seq");
      const salt = a.salt === undefined ? new Uint8Array() : bytesArg(a, "salt");
      if (salt.length > MAX_SALT_SIZE) return new KrpcError(ErrorCode.SaltTooBig, "salt too big");
      this.#stats.signatureChecks++;
      if (!verifyItem(k, seq, encoded, sig, salt)) {
        this.#stats.invalidItems++;
        return new KrpcError(ErrorCode.InvalidSignature, "invalid signature");
      }
      key = toHex(mutableTarget(k, salt));
      const prev = this.#items.get(key);
      if (prev && prev.expires >= Date.now()) {
        if (typeof a.cas === "number" && prev.seq !== a.cas) {
          return new KrpcError(ErrorCode.CasMismatch, "CAS mismatch");
        }
        if (seq < prev.seq! || (seq === prev.seq && !equalBytes(encoded, prev.v))) {
          return new KrpcError(ErrorCode.SeqTooLow, "sequence number less than current");
        }
      }
      item = { v: encoded, k, seq, sig, expires };
    } else {
      key = toHex(sha1(encoded));
      item = { v: encoded, expires };
    }
    this.#items.delete(key);
    this.#items.set(key, item);
    dropOldest(this.#items, this.#maxItems);
    return {};
  }
}
