/**
 * {@linkcode DhtNode}: a full Mainline DHT node (client and server) over one
 * UDP socket, composed of the KRPC socket (`_rpc.ts`), the routing table
 * (`_routing.ts`), the storage server (`_storage.ts`) and iterative lookups
 * (`_lookup.ts`).
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import {
  equalBytes,
  formatHostPort,
  MosaikError,
  parseHostPort,
  TimeoutError,
} from "@mosaik/transport";
import { type BDict, type BInput, type BValue, encodeBencode } from "./bencode.ts";
import { AddressVotes, isCompliant, nodeIdFor } from "./bep42.ts";
import {
  immutableTarget,
  MAX_SALT_SIZE,
  MAX_VALUE_SIZE,
  type MutableItem,
  mutableTarget,
  verifyItem,
} from "./bep44.ts";
import { decodePeer, encodeNodes, ErrorCode, KrpcError, type QueryMessage } from "./krpc.ts";
import { lookup, type LookupContext, type OnResponse, storeAt } from "./_lookup.ts";
import { RoutingTable } from "./_routing.ts";
import { KrpcSocket } from "./_rpc.ts";
import { bytesArg, DhtStorage } from "./_storage.ts";
import {
  type Contact,
  type DhtNodeOptions,
  type DhtStats,
  type GetMutableOptions,
  type LookupResult,
  PUBLIC_ROUTERS,
  type PutMutableOptions,
  type QueryHandler,
  type Responder,
  type StoreResult,
} from "./types.ts";

const REFRESH_INTERVAL = 5 * 60_000;

/**
 * A Mainline DHT node: answers queries from others (ping, find_node,
 * get_peers, announce_peer, get, put) and runs iterative lookups (alpha 3,
 * k 8) for its own use.
 *
 * Needs `--unstable-net` and `--allow-net` for the bind address and the
 * nodes it talks to; sends that permissions deny are counted in
 * {@linkcode DhtStats.sendErrors}, never thrown.
 *
 * @example
 * ```ts ignore
 * import { DhtNode } from "@mosaik/discovery/dht";
 * const node = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: ["127.0.0.1:6881"] });
 * await node.bootstrap();
 * const { closest } = await node.findNode(node.id);
 * await node.close();
 * ```
 */
export class DhtNode implements AsyncDisposable {
  /** Counters (malformed input, timeouts, ...). */
  readonly stats: DhtStats = {
    received: 0,
    sent: 0,
    malformed: 0,
    unexpected: 0,
    answered: 0,
    timeouts: 0,
    sendErrors: 0,
    invalidItems: 0,
    signatureChecks: 0,
  };
  readonly #rpc: KrpcSocket;
  readonly #table: RoutingTable;
  readonly #storage: DhtStorage;
  readonly #lookups: LookupContext;
  readonly #k: number;
  readonly #timeout: number;
  readonly #handlers = new Map<string, QueryHandler>();
  readonly #votes = new AddressVotes();
  readonly #refresh: ReturnType<typeof setInterval>;
  /** This node is on the IPv6 DHT (BEP 32): `nodes6` and 38-byte compact nodes. */
  readonly #v6: boolean;
  #closed = false;
  #externalIp?: string;

  private constructor(conn: Deno.DatagramConn, options: DhtNodeOptions) {
    this.#k = options.k ?? 8;
    this.#timeout = options.timeout ?? 1000;
    const hostname = (conn.addr as Deno.NetAddr).hostname;
    this.#v6 = hostname.includes(":");
    const id = options.id?.slice() ?? nodeIdFor(hostname);
    this.#rpc = new KrpcSocket(conn, id, this.stats, {
      answer: (msg, host, port) => this.#answer(msg, host, port),
      answered: (from, host, port, ip) => {
        this.#table.touch(from, host, port);
        this.#vote(ip, host);
      },
      queried: (msg, host, port) => this.#table.touch(msg.a.id as Uint8Array, host, port),
    }, { maxInflight: options.maxInflight ?? 512, timeout: this.#timeout });
    this.#table = new RoutingTable(id, this.#k, (c) => this.#send(c.host, c.port, "ping", {}));
    this.#storage = new DhtStorage(this.stats, {
      maxItems: options.maxItems ?? 1000,
      maxInfohashes: options.maxInfohashes ?? 1000,
    });
    this.#lookups = {
      id,
      k: this.#k,
      alpha: options.alpha ?? 3,
      timeout: this.#timeout,
      v6: this.#v6,
      routers: options.bootstrap ?? PUBLIC_ROUTERS,
      stats: this.stats,
      rtt: () => this.#rpc.rtt,
      closed: () => this.#closed,
      closest: (target, n) => this.#table.closest(target, n),
      size: () => this.#table.size,
      query: (host, port, method, args) => this.#send(host, port, method, args),
      failed: (id) => this.#table.failed(id),
    };
    for (const c of options.nodes ?? []) {
      if (c.id instanceof Uint8Array && c.id.length === 20) this.#table.touch(c.id, c.host, c.port);
    }
    this.#refresh = setInterval(() => this.#refreshTable(), REFRESH_INTERVAL);
  }

  /** Binds the UDP socket and starts answering queries. Call {@linkcode DhtNode.bootstrap} to join. */
  // deno-lint-ignore require-await
  static async create(options: DhtNodeOptions = {}): Promise<DhtNode> {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port ?? 0,
    });
    return new DhtNode(conn, options);
  }

  /** Our 20-byte node id. */
  get id(): Uint8Array {
    return this.#rpc.id;
  }

  /** The bound hostname. */
  get hostname(): string {
    return this.#rpc.addr.hostname;
  }

  /** The bound UDP port. */
  get port(): number {
    return this.#rpc.addr.port;
  }

  /** `host:port` of the socket (what others put in their bootstrap lists). */
  get address(): string {
    return formatHostPort({ hostname: this.hostname, port: this.port });
  }

  /** Our external IPv4 address once enough nodes agreed on it (BEP 42 `ip` votes). */
  get externalAddress(): string | undefined {
    return this.#externalIp;
  }

  /** Smoothed response time of our queries in milliseconds. */
  get rtt(): number {
    return this.#rpc.rtt;
  }

  /** Nodes in the routing table. */
  get size(): number {
    return this.#table.size;
  }

  /** The routing table's contacts (to persist, and pass back as {@linkcode DhtNodeOptions.nodes}). */
  contacts(): Contact[] {
    return this.#table.contacts();
  }

  /**
   * Answers queries of method `method` with `handler` (an extension; the BEP 5
   * and BEP 44 methods are built in and cannot be replaced).
   */
  handle(method: string, handler: QueryHandler): void {
    this.#handlers.set(method, handler);
  }

  /** Joins the DHT: an iterative `find_node` for our own id, seeded by the routers. */
  async bootstrap(): Promise<number> {
    await this.findNode(this.id);
    return this.size;
  }

  /** Adds a known node (as if it had answered us), for seeding the table. */
  addContact(contact: Contact): void {
    this.#table.touch(contact.id, contact.host, contact.port);
  }

  /**
   * Sends one query and waits for its response (return values). Rejects with
   * {@linkcode KrpcError} on an error reply and {@linkcode TimeoutError} after
   * `retries + 1` timeouts.
   */
  async query(
    address: string,
    method: string,
    args: Record<string, BInput | undefined> = {},
    options: { retries?: number; timeout?: number } = {},
  ): Promise<BDict> {
    const { hostname, port } = parseHostPort(address);
    const retries = options.retries ?? 1;
    for (let attempt = 0;; attempt++) {
      try {
        return (await this.#send(hostname, port, method, args, options.timeout)).r;
      } catch (e) {
        if (!(e instanceof TimeoutError) || attempt >= retries) throw e;
      }
    }
  }

  /** Pings a node; resolves with its node id. */
  async ping(address: string): Promise<Uint8Array> {
    return (await this.query(address, "ping")).id as Uint8Array;
  }

  /** Iterative `find_node`: the k closest nodes to `target`. */
  findNode(target: Uint8Array): Promise<LookupResult> {
    return this.#lookup(target, "find_node", { target });
  }

  /** Iterative `get_peers`: peers announced for `infohash` (as `host:port`), and the closest nodes with tokens. */
  async getPeers(infohash: Uint8Array): Promise<LookupResult & { peers: string[] }> {
    const peers = new Set<string>();
    const result = await this.#lookup(infohash, "get_peers", { info_hash: infohash }, (r) => {
      if (Array.isArray(r.values)) {
        for (const v of r.values) {
          if (v instanceof Uint8Array && (v.length === 6 || v.length === 18)) {
            const p = decodePeer(v);
            if (p.port) peers.add(formatHostPort({ hostname: p.host, port: p.port }));
          }
        }
      }
      return true;
    });
    return { ...result, peers: [...peers] };
  }

  /**
   * Announces that a peer is reachable for `infohash` at our IP: on `port`, or
   * on this socket's port when `port` is omitted (`implied_port`).
   */
  async announce(infohash: Uint8Array, port?: number): Promise<StoreResult & { peers: string[] }> {
    const found = await this.getPeers(infohash);
    const stored = await storeAt(this.#lookups, found.closest, "announce_peer", {
      info_hash: infohash,
      port: port ?? this.port,
      implied_port: port === undefined ? 1 : 0,
    });
    return { ...stored, target: infohash, queried: found.queried, peers: found.peers };
  }

  /** Stores an immutable item; its target is SHA-1(bencodeBencode(v)). */
  async putImmutable(v: BInput): Promise<StoreResult> {
    const encoded = encodeBencode(v);
    if (encoded.length > MAX_VALUE_SIZE) {
      throw new MosaikError("BEP 44 values are at most 1000 bytes");
    }
    const target = immutableTarget(v);
    const found = await this.#lookup(target, "get", { target });
    const stored = await storeAt(this.#lookups, found.closest, "put", { v });
    return { ...stored, target, queried: found.queried };
  }

  /** Fetches an immutable item by target; checks the hash. */
  async getImmutable(target: Uint8Array): Promise<BValue | undefined> {
    let value: BValue | undefined;
    await this.#lookup(target, "get", { target }, (r) => {
      if (r.v === undefined) return true;
      if (!equalBytes(sha1(encodeBencode(r.v)), target)) {
        this.stats.invalidItems++;
        return true;
      }
      value = r.v;
      return false;
    });
    return value;
  }

  /**
   * Stores a signed mutable item (see `signItem`) at the k nodes closest to
   * SHA-1(k ‖ salt). With `cas`, nodes holding another seq refuse with 301.
   */
  async putMutable(item: MutableItem, options: PutMutableOptions = {}): Promise<StoreResult> {
    const encoded = encodeBencode(item.v);
    if (encoded.length > MAX_VALUE_SIZE) {
      throw new MosaikError("BEP 44 values are at most 1000 bytes");
    }
    if (item.salt.length > MAX_SALT_SIZE) {
      throw new MosaikError("BEP 44 salts are at most 64 bytes");
    }
    const target = mutableTarget(item.k, item.salt);
    const found = await this.#lookup(target, "get", { target });
    const stored = await storeAt(this.#lookups, found.closest, "put", (r) => ({
      v: item.v,
      k: item.k,
      seq: item.seq,
      sig: item.sig,
      salt: item.salt.length > 0 ? item.salt : undefined,
      // BEP 44: no cas to nodes that returned no data.
      cas: options.cas !== undefined && r.response.seq !== undefined ? options.cas : undefined,
    }));
    return { ...stored, target, queried: found.queried };
  }

  /**
   * Fetches the newest mutable item of public key `k` (32 bytes). Verifies a
   * signature only for a response that could win (a higher seq than the best
   * verified so far) and stops once the `quorum` closest nodes agree on it.
   */
  async getMutable(
    k: Uint8Array,
    options: GetMutableOptions = {},
  ): Promise<(MutableItem & { queried: number }) | undefined> {
    const salt = options.salt ?? new Uint8Array();
    const quorum = options.quorum ?? 3;
    const target = mutableTarget(k, salt);
    let best: MutableItem | undefined;
    let bestV: Uint8Array | undefined;
    const holdsBest = (r: BDict) =>
      best !== undefined && r.seq === best.seq && r.sig instanceof Uint8Array &&
      equalBytes(r.sig, best.sig) && r.v !== undefined &&
      equalBytes(encodeBencode(r.v), bestV!);
    // Done once the `quorum` closest nodes answered and all hold the newest item.
    const agreed = (top: (n: number) => Responder[] | undefined) =>
      top(quorum)?.every((x) => holdsBest(x.response)) ?? false;
    const result = await this.#lookup(target, "get", { target }, (r, _from, top) => {
      const { seq, sig, v } = r;
      if (v === undefined || typeof seq !== "number" || !(sig instanceof Uint8Array)) {
        return !agreed(top);
      }
      if (!(r.k instanceof Uint8Array) || !equalBytes(r.k, k)) {
        this.stats.invalidItems++;
        return !agreed(top);
      }
      // Only a higher seq can win; the same signature over the same value
      // needs no second check.
      if (!best || seq > best.seq) {
        const encoded = encodeBencode(v);
        this.stats.signatureChecks++;
        if (verifyItem(k, seq, encoded, sig, salt)) {
          best = { k, salt, seq, v, sig };
          bestV = encoded;
        } else {
          this.stats.invalidItems++;
        }
      }
      return !agreed(top);
    });
    return best && { ...best, queried: result.queried };
  }

  /** Closes the socket, fails pending queries with {@linkcode ClosedError} and stops timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#refresh);
    this.#storage.close();
    this.#table.close();
    await this.#rpc.close();
  }

  /** Same as {@linkcode DhtNode.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(
    host: string,
    port: number,
    method: string,
    args: Record<string, BInput | undefined>,
    timeout = this.#timeout,
  ): Promise<{ r: BDict; ip?: Uint8Array }> {
    return this.#rpc.query(host, port, method, args, timeout);
  }

  #lookup(
    target: Uint8Array,
    method: string,
    args: Record<string, BInput>,
    onResponse?: OnResponse,
  ): Promise<LookupResult> {
    return lookup(this.#lookups, target, method, args, onResponse);
  }

  #refreshTable(): void {
    const target = this.size < this.#k ? this.id : crypto.getRandomValues(new Uint8Array(20));
    this.findNode(target).catch(() => {});
  }

  /** BEP 42: count what responders say our address is; move to a valid id once several agree. */
  #vote(ip: Uint8Array | undefined, voter: string): void {
    if (!ip || (ip.length !== 6 && ip.length !== 18)) return;
    const host = this.#votes.vote(decodePeer(ip).host, voter);
    if (!host || host === this.#externalIp) return;
    this.#externalIp = host;
    if (!isCompliant(this.id, host)) {
      const id = nodeIdFor(host);
      this.#rpc.id = id;
      (this.#lookups as { id: Uint8Array }).id = id;
      this.#table.rebuild(id);
    }
  }

  #closestNodes(target: Uint8Array): BDict {
    return {
      [this.#v6 ? "nodes6" : "nodes"]: encodeNodes(this.#table.closest(target, this.#k), this.#v6),
    };
  }

  #answer(msg: QueryMessage, host: string, port: number): BDict | KrpcError {
    const a = msg.a;
    switch (msg.q) {
      case "ping":
        return {};
      case "find_node":
        return this.#closestNodes(bytesArg(a, "target", 20));
      case "get_peers":
        return {
          ...this.#closestNodes(bytesArg(a, "info_hash", 20)),
          ...this.#storage.getPeers(a, host),
        };
      case "announce_peer":
        return this.#storage.announcePeer(a, host, port);
      case "get":
        return { ...this.#closestNodes(bytesArg(a, "target", 20)), ...this.#storage.get(a, host) };
      case "put":
        return this.#storage.put(a, host);
      default: {
        const handler = this.#handlers.get(msg.q);
        if (!handler) return new KrpcError(ErrorCode.MethodUnknown, "Method Unknown");
        return handler(a, { host, port });
      }
    }
  }
}
