/**
 * {@linkcode DhtNode}: a full Mainline DHT node (client and server) over one
 * UDP socket.
 *
 * @module
 */
import KBucket from "k-bucket";
import { sha1 } from "@noble/hashes/legacy.js";
import { ClosedError, equalBytes, MosaikError, TimeoutError, toHex } from "@mosaik/transport";
import { type BDict, type BInput, type BValue, decode, encode } from "./bencode.ts";
import { AddressVotes, formatIP, isCompliant, isExempt, nodeIdFor, parseIP } from "./bep42.ts";
import {
  immutableTarget,
  MAX_SALT_SIZE,
  MAX_VALUE_SIZE,
  type MutableItem,
  mutableTarget,
  verifyItem,
} from "./bep44.ts";
import {
  type CompactNode,
  decodeNodes,
  decodePeer,
  encodeNodes,
  encodePeer,
  ErrorCode,
  joinHostPort,
  KrpcError,
  type KrpcMessage,
  parseHostPort,
  parseMessage,
  type QueryMessage,
} from "./krpc.ts";

/**
 * Public Mainline routers, the default bootstrap list. Nothing in this
 * repository's tests or benches contacts them: they pass local lists and run
 * with `--allow-net` limited to loopback.
 */
export const PUBLIC_ROUTERS: readonly string[] = [
  "router.bittorrent.com:6881",
  "router.utorrent.com:6881",
  "dht.transmissionbt.com:6881",
];

/** Options of {@linkcode DhtNode.create}. */
export interface DhtNodeOptions {
  /** Address to bind the UDP socket to. Default `"0.0.0.0"`. */
  hostname?: string;
  /** UDP port. Default 0 (any free port). */
  port?: number;
  /** Routers to bootstrap from, as `host:port`. Default {@linkcode PUBLIC_ROUTERS}. */
  bootstrap?: readonly string[];
  /** Node id (20 bytes). Default: random, BEP 42-valid once the external address is known. */
  id?: Uint8Array;
  /** Bucket size and lookup width. Default 8 (BEP 5). */
  k?: number;
  /** Parallel queries per lookup. Default 3. */
  alpha?: number;
  /** Milliseconds before a query times out. Default 1000. */
  timeout?: number;
  /** Most items (BEP 44) kept for others. Default 1000. */
  maxItems?: number;
  /** Most infohashes with announced peers kept for others. Default 1000. */
  maxInfohashes?: number;
  /** Most of our queries in flight at once; more fail at once. Default 512. */
  maxInflight?: number;
  /**
   * Contacts saved from an earlier run ({@linkcode DhtNode.contacts}) to seed
   * the routing table, so a restart can join without the routers.
   */
  nodes?: readonly Contact[];
}

/** A node in the routing table or found by a lookup. */
export interface Contact {
  /** 20-byte node id. */
  id: Uint8Array;
  /** IPv4 address. */
  host: string;
  /** UDP port. */
  port: number;
}

/** A node that answered during a lookup, with its write token if it gave one. */
export interface Responder extends Contact {
  /** Token for `announce_peer`/`put`, when the node returned one. */
  token?: Uint8Array;
  /** The response (return values). */
  response: BDict;
}

/** What a lookup found. */
export interface LookupResult {
  /** The closest responders (at most k), closest first. */
  closest: Responder[];
  /** How many nodes were queried. */
  queried: number;
}

/** Counters a node keeps; malformed input is counted here and otherwise dropped. */
export interface DhtStats {
  /** Datagrams received. */
  received: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams that failed to decode or had a bad shape (dropped). */
  malformed: number;
  /** Responses nobody waited for (dropped). */
  unexpected: number;
  /** Queries answered (with a response or an error). */
  answered: number;
  /** Our queries that timed out. */
  timeouts: number;
  /** Sends that failed (for example denied by permissions). */
  sendErrors: number;
  /** Items that failed signature or target checks (dropped). */
  invalidItems: number;
  /** Ed25519 signature verifications performed (gets and puts). */
  signatureChecks: number;
}

/** Result of a put or an announce. */
export interface StoreResult {
  /** The 20-byte target or infohash. */
  target: Uint8Array;
  /** How many nodes acknowledged. */
  stored: number;
  /** Error replies, for example {@linkcode ErrorCode.CasMismatch}. */
  errors: KrpcError[];
  /** Nodes queried by the lookup before the store. */
  queried: number;
}

/** Options of {@linkcode DhtNode.getMutable}. */
export interface GetMutableOptions {
  /** Salt the item was put with. */
  salt?: Uint8Array;
  /**
   * Stop as soon as the this-many closest nodes found so far have all
   * answered with the newest verified item. Default 3; `Infinity` runs the
   * whole lookup.
   */
  quorum?: number;
}

/** Options of {@linkcode DhtNode.putMutable}. */
export interface PutMutableOptions {
  /** Compare-and-swap: only replace an item whose current seq is this. */
  cas?: number;
}

/** A handler for a query method (see {@linkcode DhtNode.handle}). */
export type QueryHandler = (
  args: BDict,
  from: { host: string; port: number },
) => BDict | KrpcError;

interface Pending {
  sent: number;
  host: string;
  port: number;
  strictAddress: boolean;
  resolve: (r: { r: BDict; ip?: Uint8Array }) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface StoredItem {
  v: Uint8Array; // encoded value
  k?: Uint8Array;
  seq?: number;
  sig?: Uint8Array;
  expires: number;
}

interface RoutingContact extends Contact {
  vectorClock: number;
  /** Consecutive queries that failed; the contact is dropped at 2 (BEP 5 "bad"). */
  fails?: number;
}

interface RoutingTable {
  add(c: RoutingContact): void;
  remove(id: Uint8Array): void;
  get(id: Uint8Array): RoutingContact | null;
  closest(id: Uint8Array, n?: number): RoutingContact[];
  count(): number;
  toArray(): RoutingContact[];
  on(event: "ping", fn: (old: RoutingContact[], incoming: RoutingContact) => void): void;
}

const ITEM_TTL = 2 * 60 * 60_000;
const PEER_TTL = 30 * 60_000;
const SECRET_ROTATION = 5 * 60_000;
const REFRESH_INTERVAL = 5 * 60_000;

function distanceKey(id: Uint8Array | undefined, target: Uint8Array): string {
  if (!id) return "z"; // unknown id (a router): after every known one
  let s = "";
  for (let i = 0; i < 20; i++) s += (id[i] ^ target[i]).toString(16).padStart(2, "0");
  return s;
}

function bytesArg(a: BDict, key: string, length?: number): Uint8Array {
  const v = a[key];
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
    throw new KrpcError(ErrorCode.Protocol, `missing or malformed argument ${key}`);
  }
  return v;
}

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
  readonly #conn: Deno.DatagramConn;
  readonly #routers: readonly string[];
  readonly #k: number;
  readonly #alpha: number;
  readonly #timeout: number;
  readonly #maxItems: number;
  readonly #maxInfohashes: number;
  readonly #maxInflight: number;
  readonly #pending = new Map<number, Pending>();
  readonly #items = new Map<string, StoredItem>();
  readonly #peers = new Map<string, Map<string, number>>();
  readonly #handlers = new Map<string, QueryHandler>();
  readonly #votes = new AddressVotes();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #id: Uint8Array;
  #table!: RoutingTable;
  #nextTid = Math.floor(Math.random() * 65536);
  #secrets = [
    crypto.getRandomValues(new Uint8Array(16)),
    crypto.getRandomValues(new Uint8Array(16)),
  ];
  #closed = false;
  /** This node is on the IPv6 DHT (BEP 32): `nodes6` and 38-byte compact nodes. */
  readonly #v6: boolean;
  #loop: Promise<void>;
  #externalIp?: string;
  /** Smoothed response time in ms (EWMA), for spotting slow lookup queries. */
  #rtt: number;

  private constructor(conn: Deno.DatagramConn, options: DhtNodeOptions) {
    this.#conn = conn;
    this.#routers = options.bootstrap ?? PUBLIC_ROUTERS;
    this.#k = options.k ?? 8;
    this.#alpha = options.alpha ?? 3;
    this.#timeout = options.timeout ?? 1000;
    this.#rtt = this.#timeout / 4;
    this.#maxItems = options.maxItems ?? 1000;
    this.#maxInfohashes = options.maxInfohashes ?? 1000;
    this.#maxInflight = options.maxInflight ?? 512;
    this.#v6 = this.hostname.includes(":");
    this.#id = options.id?.slice() ?? nodeIdFor(this.hostname);
    this.#newTable([]);
    for (const c of options.nodes ?? []) {
      if (c.id instanceof Uint8Array && c.id.length === 20) this.#touch(c.id, c.host, c.port);
    }
    this.#timers.push(setInterval(() => this.#rotate(), SECRET_ROTATION));
    this.#timers.push(setInterval(() => this.#refresh(), REFRESH_INTERVAL));
    this.#loop = this.#receive();
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
    return this.#id;
  }

  /** The bound hostname. */
  get hostname(): string {
    return (this.#conn.addr as Deno.NetAddr).hostname;
  }

  /** The bound UDP port. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  /** `host:port` of the socket (what others put in their bootstrap lists). */
  get address(): string {
    return joinHostPort(this.hostname, this.port);
  }

  /** Our external IPv4 address once enough nodes agreed on it (BEP 42 `ip` votes). */
  get externalAddress(): string | undefined {
    return this.#externalIp;
  }

  /** Smoothed response time of our queries in milliseconds. */
  get rtt(): number {
    return this.#rtt;
  }

  /** Nodes in the routing table. */
  get size(): number {
    return this.#table.count();
  }

  /** The routing table's contacts (to persist, and pass back as {@linkcode DhtNodeOptions.nodes}). */
  contacts(): Contact[] {
    return this.#table.toArray().map(({ id, host, port }) => ({ id, host, port }));
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
    await this.findNode(this.#id);
    return this.size;
  }

  /** Adds a known node (as if it had answered us), for seeding the table. */
  addContact(contact: Contact): void {
    this.#touch(contact.id, contact.host, contact.port);
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
    const { host, port } = parseHostPort(address);
    const retries = options.retries ?? 1;
    for (let attempt = 0;; attempt++) {
      try {
        return (await this.#send(host, port, method, args, options.timeout)).r;
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
            if (p.port) peers.add(joinHostPort(p.host, p.port));
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
    const stored = await this.#storeAt(found.closest, "announce_peer", {
      info_hash: infohash,
      port: port ?? this.port,
      implied_port: port === undefined ? 1 : 0,
    });
    return { ...stored, target: infohash, queried: found.queried, peers: found.peers };
  }

  /** Stores an immutable item; its target is SHA-1(bencode(v)). */
  async putImmutable(v: BInput): Promise<StoreResult> {
    const encoded = encode(v);
    if (encoded.length > MAX_VALUE_SIZE) {
      throw new MosaikError("BEP 44 values are at most 1000 bytes");
    }
    const target = immutableTarget(v);
    const found = await this.#lookup(target, "get", { target });
    const stored = await this.#storeAt(found.closest, "put", { v });
    return { ...stored, target, queried: found.queried };
  }

  /** Fetches an immutable item by target; checks the hash. */
  async getImmutable(target: Uint8Array): Promise<BValue | undefined> {
    let value: BValue | undefined;
    await this.#lookup(target, "get", { target }, (r) => {
      if (r.v === undefined) return true;
      if (!equalBytes(sha1(encode(r.v)), target)) {
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
    const encoded = encode(item.v);
    if (encoded.length > MAX_VALUE_SIZE) {
      throw new MosaikError("BEP 44 values are at most 1000 bytes");
    }
    if (item.salt.length > MAX_SALT_SIZE) {
      throw new MosaikError("BEP 44 salts are at most 64 bytes");
    }
    const target = mutableTarget(item.k, item.salt);
    const found = await this.#lookup(target, "get", { target });
    const stored = await this.#storeAt(found.closest, "put", (r) => ({
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
      equalBytes(r.sig, best.sig) && r.v !== undefined && equalBytes(encode(r.v), bestV!);
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
        const encoded = encode(v);
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
    for (const t of this.#timers) clearInterval(t);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ClosedError("DHT node closed"));
    }
    this.#pending.clear();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#loop;
  }

  /** Same as {@linkcode DhtNode.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- routing table -------------------------------------------------------

  #newTable(contacts: RoutingContact[]): void {
    const table = new KBucket({
      localNodeId: this.#id,
      numberOfNodesPerKBucket: this.#k,
    }) as unknown as RoutingTable;
    table.on("ping", (old, incoming) => this.#evict(old, incoming));
    for (const c of contacts) table.add(c);
    this.#table = table;
  }

  #touch(id: Uint8Array, host: string, port: number): void {
    if (equalBytes(id, this.#id)) return;
    this.#table.add({ id, host, port, vectorClock: Date.now() });
  }

  /** A full bucket: ping its oldest contacts and let a silent one make room. */
  #evict(old: RoutingContact[], incoming: RoutingContact): void {
    for (const c of old) {
      this.#send(c.host, c.port, "ping", {}).then(
        () => {},
        () => {
          if (this.#closed) return;
          this.#table.remove(c.id);
          this.#table.add(incoming);
        },
      );
    }
  }

  #failed(id: Uint8Array): void {
    const contact = this.#table.get(id);
    if (!contact) return;
    contact.fails = (contact.fails ?? 0) + 1;
    if (contact.fails >= 2) this.#table.remove(id);
  }

  #refresh(): void {
    const target = this.size < this.#k ? this.#id : crypto.getRandomValues(new Uint8Array(20));
    this.findNode(target).catch(() => {});
  }

  #rotate(): void {
    this.#secrets = [crypto.getRandomValues(new Uint8Array(16)), this.#secrets[0]];
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

  /** BEP 42: count what responders say our address is; move to a valid id once several agree. */
  #vote(ip: Uint8Array | undefined, voter: string): void {
    if (!ip || (ip.length !== 6 && ip.length !== 18)) return;
    const host = this.#votes.vote(decodePeer(ip).host, voter);
    if (!host || host === this.#externalIp) return;
    this.#externalIp = host;
    if (!isCompliant(this.#id, host)) {
      this.#id = nodeIdFor(host);
      this.#newTable(this.#table.toArray());
    }
  }

  // ---- wire ----------------------------------------------------------------

  async #receive(): Promise<void> {
    // One small buffer per node (Deno allocates 64 KiB per receive otherwise);
    // KRPC datagrams stay far below it, larger ones are truncated and dropped.
    const buf = new Uint8Array(4096);
    for (;;) {
      let data: Uint8Array, addr: Deno.Addr;
      try {
        [data, addr] = await this.#conn.receive(buf);
        data = data.slice(); // parsed values keep references: copy out of the shared buffer
      } catch {
        if (this.#closed) return;
        continue; // e.g. ICMP port unreachable surfaced as an error
      }
      this.stats.received++;
      const { hostname, port } = addr as Deno.NetAddr;
      const host = normalizeHost(hostname);
      let msg: KrpcMessage;
      try {
        msg = parseMessage(data);
      } catch {
        this.stats.malformed++;
        continue;
      }
      try {
        this.#dispatch(msg, host, port);
      } catch {
        this.stats.malformed++;
      }
    }
  }

  #dispatch(msg: KrpcMessage, host: string, port: number): void {
    if (msg.y === "q") return this.#answer(msg, host, port);
    if (msg.t.length !== 2) {
      this.stats.unexpected++;
      return;
    }
    const tid = msg.t[0] << 8 | msg.t[1];
    const p = this.#pending.get(tid);
    if (!p || (p.strictAddress && (p.host !== host || p.port !== port))) {
      this.stats.unexpected++;
      return;
    }
    this.#pending.delete(tid);
    clearTimeout(p.timer);
    this.#rtt = 0.8 * this.#rtt + 0.2 * (performance.now() - p.sent);
    if (msg.y === "e") return p.reject(new KrpcError(msg.code, msg.message));
    const id = msg.r.id as Uint8Array;
    this.#touch(id, host, port);
    this.#vote(msg.ip, host);
    p.resolve({ r: msg.r, ip: msg.ip });
  }

  #write(host: string, port: number, message: BInput): void {
    const bytes = encode(message);
    this.stats.sent++;
    this.#conn.send(bytes, { transport: "udp", hostname: host, port }).catch(() => {
      this.stats.sendErrors++;
    });
  }

  #send(
    host: string,
    port: number,
    method: string,
    args: Record<string, BInput | undefined>,
    timeout = this.#timeout,
  ): Promise<{ r: BDict; ip?: Uint8Array }> {
    if (this.#closed) return Promise.reject(new ClosedError("DHT node closed"));
    host = normalizeHost(host);
    if (this.#pending.size >= this.#maxInflight) {
      return Promise.reject(new MosaikError("too many DHT queries in flight"));
    }
    let tid = this.#nextTid;
    while (this.#pending.has(tid)) tid = (tid + 1) & 0xffff;
    this.#nextTid = (tid + 1) & 0xffff;
    const t = new Uint8Array([tid >> 8, tid & 0xff]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(tid);
        this.stats.timeouts++;
        reject(new TimeoutError(`${method} to ${host}:${port} timed out`));
      }, timeout);
      this.#pending.set(tid, {
        sent: performance.now(),
        host,
        port,
        strictAddress: parseIP(host) !== undefined,
        resolve,
        reject,
        timer,
      });
      this.#write(host, port, { t, y: "q", q: method, a: { ...args, id: this.#id } });
    });
  }

  #answer(msg: QueryMessage, host: string, port: number): void {
    this.stats.answered++;
    const ip = encodePeer(host, port);
    let r: BDict | KrpcError;
    try {
      r = this.#handleQuery(msg, host, port);
    } catch (e) {
      r = e instanceof KrpcError ? e : new KrpcError(ErrorCode.Server, "server error");
    }
    if (r instanceof KrpcError) {
      this.#write(host, port, {
        t: msg.t,
        y: "e",
        e: [r.code, r.message.replace(/^KRPC error \d+: /, "")],
      });
      return;
    }
    this.#write(host, port, { t: msg.t, y: "r", r: { ...r, id: this.#id }, ip });
    if (!msg.ro) this.#touch(msg.a.id as Uint8Array, host, port);
  }

  #closestNodes(target: Uint8Array): BDict {
    return {
      [this.#v6 ? "nodes6" : "nodes"]: encodeNodes(this.#table.closest(target, this.#k), this.#v6),
    };
  }

  #handleQuery(msg: QueryMessage, host: string, port: number): BDict | KrpcError {
    const a = msg.a;
    switch (msg.q) {
      case "ping":
        return {};
      case "find_node":
        return this.#closestNodes(bytesArg(a, "target", 20));
      case "get_peers": {
        const infohash = bytesArg(a, "info_hash", 20);
        const r: BDict = {
          token: this.#token(host, this.#secrets[0]),
          ...this.#closestNodes(infohash),
        };
        const peers = this.#livePeers(toHex(infohash));
        if (peers.length > 0) r.values = peers.slice(0, 50);
        return r;
      }
      case "announce_peer": {
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
      case "get":
        return this.#get(a, host);
      case "put":
        return this.#put(a, host);
      default: {
        const handler = this.#handlers.get(msg.q);
        if (!handler) return new KrpcError(ErrorCode.MethodUnknown, "Method Unknown");
        return handler(a, { host, port });
      }
    }
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
      if (this.#peers.size >= this.#maxInfohashes) {
        this.#peers.delete(this.#peers.keys().next().value!);
      }
      this.#peers.set(key, set = new Map());
    }
    const hex = toHex(compact);
    set.delete(hex);
    set.set(hex, Date.now() + PEER_TTL);
    // Bound per infohash, and per IP so one host cannot push everyone out.
    const ipHex = hex.slice(0, hex.length - 4); // the address without the port
    const sameIp = [...set.keys()].filter((h) => h.startsWith(ipHex));
    const host = decodePeer(compact).host;
    if (!isExempt(host) && sameIp.length > 8) set.delete(sameIp[0]);
    if (set.size > 200) set.delete(set.keys().next().value!);
  }

  #get(a: BDict, host: string): BDict {
    const target = bytesArg(a, "target", 20);
    const r: BDict = { token: this.#token(host, this.#secrets[0]), ...this.#closestNodes(target) };
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
    r.v = decode(item.v);
    return r;
  }

  #put(a: BDict, host: string): BDict | KrpcError {
    if (!this.#validToken(host, bytesArg(a, "token"))) {
      return new KrpcError(ErrorCode.Protocol, "bad token");
    }
    if (a.v === undefined) return new KrpcError(ErrorCode.Protocol, "missing v");
    const encoded = encode(a.v);
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
      this.stats.signatureChecks++;
      if (!verifyItem(k, seq, encoded, sig, salt)) {
        this.stats.invalidItems++;
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
    if (this.#items.size > this.#maxItems) this.#items.delete(this.#items.keys().next().value!);
    return {};
  }

  // ---- lookups -------------------------------------------------------------

  async #storeAt(
    closest: Responder[],
    method: string,
    args:
      | Record<string, BInput | undefined>
      | ((r: Responder) => Record<string, BInput | undefined>),
  ): Promise<StoreResult> {
    const targets = closest.filter((r) => r.token && isCompliant(r.id, r.host));
    const errors: KrpcError[] = [];
    let stored = 0;
    await Promise.all(targets.map(async (r) => {
      const a = typeof args === "function" ? args(r) : args;
      try {
        await this.#send(r.host, r.port, method, { ...a, token: r.token });
        stored++;
      } catch (e) {
        if (e instanceof KrpcError) errors.push(e);
      }
    }));
    return { target: new Uint8Array(), stored, errors, queried: 0 };
  }

  /**
   * Iterative lookup: keeps up to alpha queries in flight to the closest
   * not-yet-queried candidates, and ends when the k closest live candidates
   * have all answered (or `onResponse` returns false). Nodes that fail BEP 42
   * rank after compliant ones.
   */
  #lookup(
    target: Uint8Array,
    method: string,
    args: Record<string, BInput>,
    onResponse?: (
      r: BDict,
      from: Responder,
      top: (n: number) => Responder[] | undefined,
    ) => boolean,
  ): Promise<LookupResult> {
    interface Candidate {
      host: string;
      port: number;
      id?: Uint8Array;
      key: string;
      state: "new" | "pending" | "ok" | "failed";
      /** Pending for longer than a few RTTs: no longer blocks the lookup. */
      slow?: boolean;
      responder?: Responder;
    }
    const candidates = new Map<string, Candidate>();
    const add = (host: string, port: number, id?: Uint8Array) => {
      const addr = `${host}:${port}`;
      if (candidates.has(addr) || candidates.size >= 500) return;
      if (id && equalBytes(id, this.#id)) return;
      const rank = id && !isCompliant(id, host) ? "y" : "";
      candidates.set(addr, { host, port, id, key: rank + distanceKey(id, target), state: "new" });
    };
    for (const c of this.#table.closest(target, this.#k * 2)) add(c.host, c.port, c.id);
    if (this.size < this.#k) {
      for (const r of this.#routers) {
        try {
          const { host, port } = parseHostPort(r);
          add(host, port);
        } catch { /* skip a malformed router entry */ }
      }
    }
    let queried = 0;
    let inflight = 0;
    let finished = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    return new Promise((resolve) => {
      const window = () =>
        [...candidates.values()].filter((c) => c.state !== "failed" && !c.slow)
          .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
          .slice(0, this.#k);
      // The n closest live candidates, when every one of them has answered.
      const top = (n: number) => {
        const w = window().slice(0, n);
        return w.every((c) => c.state === "ok") ? w.map((c) => c.responder!) : undefined;
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        for (const t of timers) clearTimeout(t);
        const closest = window().filter((c) => c.responder).map((c) => c.responder!);
        resolve({ closest, queried });
      };
      const pump = () => {
        if (finished) return;
        if (this.#closed) return finish();
        const w = window();
        if (w.length > 0 && w.every((c) => c.state === "ok")) return finish();
        for (const c of w) {
          if (inflight >= this.#alpha) break;
          if (c.state === "new") launch(c);
        }
        if (inflight === 0) finish();
      };
      const launch = (c: Candidate) => {
        c.state = "pending";
        inflight++;
        queried++;
        // A query slower than a few smoothed RTTs frees its slot and stops
        // blocking termination (a dead node costs ~4 RTTs, not the timeout).
        const slowAfter = Math.min(this.#timeout, Math.max(30, 4 * this.#rtt));
        let freed = false;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (c.state !== "pending") return;
          c.slow = true;
          freed = true;
          inflight--;
          pump();
        }, slowAfter);
        timers.add(timer);
        this.#send(c.host, c.port, method, args).then(({ r }) => {
          c.state = "ok";
          c.slow = false;
          const id = r.id as Uint8Array;
          if (!c.id) c.key = (isCompliant(id, c.host) ? "" : "y") + distanceKey(id, target);
          c.id = id;
          const token = r.token instanceof Uint8Array ? r.token : undefined;
          c.responder = { id, host: c.host, port: c.port, token, response: r };
          const compact = r[this.#v6 ? "nodes6" : "nodes"];
          if (compact instanceof Uint8Array) {
            let nodes: CompactNode[] = [];
            try {
              nodes = decodeNodes(compact, this.#v6);
            } catch {
              this.stats.malformed++;
            }
            for (const n of nodes) add(n.host, n.port, n.id);
          }
          if (onResponse && !finished && onResponse(r, c.responder, top) === false) finish();
        }, () => {
          c.state = "failed";
          if (c.id) this.#failed(c.id);
        }).finally(() => {
          clearTimeout(timer);
          timers.delete(timer);
          if (!freed) inflight--;
          pump();
        });
      };
      pump();
    });
  }
}

/** Canonical text of an IP address (so `::1` and `0:0::1` match); other hosts unchanged. */
function normalizeHost(host: string): string {
  const ip = parseIP(host);
  return ip ? formatIP(ip) : host;
}
