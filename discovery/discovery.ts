/**
 * {@linkcode Discovery}: runs membership gossip, broadcast of signed
 * entries, catalog sync and ping on an {@linkcode Endpoint}.
 *
 * @module
 */
import {
  type Channel,
  CloseCode,
  ClosedError,
  decode,
  DecodeError,
  encode,
  type Endpoint,
  parsePeerAddress,
  type PeerId,
  type Tag,
  TimeoutError,
  toHex,
} from "@mosaik/transport";
import { blake3 } from "@noble/hashes/blake3.js";
import type { BootstrapContext, BootstrapSource } from "./bootstrap.ts";
import { Catalog, type UpsertResult } from "./catalog.ts";
import {
  compareVersions,
  decodeDeparture,
  InvalidEntryError,
  type ParsedEntry,
  parseEntry,
  type PeerEntry,
  signDeparture,
  type SignedPeerEntry,
  verifyParsedEntry,
  verifyParsedEntrySync,
} from "./entry.ts";
import { advertisedAddresses } from "./_addresses.ts";
import { array } from "./_check.ts";
import { HyParView, type HyParViewConfig, type PeerInfo } from "./_hyparview.ts";
import { Links } from "./_links.ts";
import { LocalEntry } from "./local.ts";
import { Plumtree, type PlumtreeConfig } from "./_plumtree.ts";
import { RttEstimator } from "./_rtt.ts";
import { checkPlacement, type GeoLocation } from "./placement.ts";
import {
  type Coordinate,
  decodeCoordinate,
  encodeCoordinate,
  Vivaldi,
  VIVALDI_DEFAULTS,
  type VivaldiConfig,
} from "./vivaldi.ts";
import { pick, TimerScheduler } from "./_scheduler.ts";
import {
  type Announcement,
  decodeAnnouncement,
  decodeGossip,
  decodeSummary,
  encodeAnnouncement,
  encodeGossip,
  encodeSummary,
  type GossipMessage,
} from "./_wire.ts";

/** Protocol name of gossip (HyParView + Plumtree) channels. */
export const GOSSIP_PROTOCOL = "/mosaik/discovery/gossip/1";
/** Protocol name of catalog sync channels. */
export const SYNC_PROTOCOL = "/mosaik/discovery/sync/1";
/** Protocol name of ping channels. */
export const PING_PROTOCOL = "/mosaik/discovery/ping/1";

/** Options of {@linkcode Discovery.create}. Durations are milliseconds. */
export interface DiscoveryOptions {
  /** Peers to join through, `"<peerId>@host:port"`. */
  bootstrap?: string[];
  /** Tags to advertise from the start. */
  tags?: Tag[];
  /**
   * `host:port` addresses to advertise. Default: the endpoint's address, or
   * every interface's address when it is bound to `0.0.0.0`/`::`.
   */
  addresses?: string[];
  /** Further bootstrap sources (mDNS, DHT, ...). */
  sources?: BootstrapSource[];
  /** An entry not refreshed for this long expires. Default 300 000. */
  purgeAfter?: number;
  /** Period of the re-announce that refreshes our entry (±`announceJitter`). Default 45 000. */
  announceInterval?: number;
  /** Jitter of the re-announce as a fraction of the interval. Default 0.5. */
  announceJitter?: number;
  /** Entries dated further than this in the future are refused. Default 50 000. */
  maxDrift?: number;
  /**
   * Longest period of anti-entropy catalog syncs with a random neighbour. They
   * start 250 ms after a change of neighbours or of our entry and double up
   * to this. Default 30 000.
   */
  syncInterval?: number;
  /** Period of RTT probes of neighbours and connected peers (±50 %). Default 30 000. */
  rttProbeInterval?: number;
  /** Time limit of one catalog sync or ping. Default 5 000. */
  requestTimeout?: number;
  /** How long a peer that sent 3 undecodable messages or forged/foreign entries is ignored. Default 60 000. */
  banDuration?: number;
  /** How long `close()` waits for neighbours to confirm they read the departure. Default 500. */
  departureWindow?: number;
  /** Largest broadcast payload; bigger entries are announced by a notice and fetched by sync. Default 8 192. */
  maxGossipMessage?: number;
  /** Gossip tuning (HyParView views and timers, Plumtree timers and mode). */
  gossip?: Partial<HyParViewConfig & PlumtreeConfig>;
  /** Region this node runs in (entry `placement`, tag `region:<region>`). */
  region?: string;
  /** Zone within the region (entry `placement`, tag `zone:<zone>`). */
  zone?: string;
  /** Geographic location of this node. */
  location?: GeoLocation;
  /** Tuning of the network coordinate. Default: serf's. */
  vivaldi?: Partial<VivaldiConfig>;
}

/** A round-trip time to a peer: measured by a ping or predicted from network coordinates. */
export interface PeerRtt {
  /** Round-trip time in ms. */
  readonly ms: number;
  /** `"measured"` (smoothed RTT of our samples) or `"predicted"` (from both coordinates). */
  readonly source: "measured" | "predicted";
}

/** Counters of a {@linkcode Discovery}, a plain object for metrics. */
export interface DiscoveryStats {
  /** Gossip, sync and ping messages sent, by kind. */
  sent: Record<string, number>;
  /** Gossip, sync and ping messages received, by kind. */
  received: Record<string, number>;
  /** Entries, departures and messages dropped, by reason. */
  dropped: Record<string, number>;
  /** Catalog syncs completed (either side). */
  syncs: number;
  /** Catalog syncs that failed. */
  syncFailures: number;
  /** Broadcasts originated by this node. */
  broadcasts: number;
  /** Bytes of gossip messages sent (membership and broadcast). */
  gossipBytesSent: number;
}

function bump(r: Record<string, number>, key: string): void {
  r[key] = (r[key] ?? 0) + 1;
}

const ZERO_STATS = (): DiscoveryStats => ({
  sent: {},
  received: {},
  dropped: {},
  syncs: 0,
  syncFailures: 0,
  broadcasts: 0,
  gossipBytesSent: 0,
});

const MAX_SYNC_ENTRIES = 100_000;
// Link-level message on gossip channels: "reply when you have read this"
// (answered with FLUSHED), so a leaving node knows its departure arrived.
const FLUSH = 100;
const FLUSHED = 101;
const ANTI_ENTROPY_MIN = 250;
const OFFENCE_LIMIT = 3;
// Refusals no honest peer causes: they verify entries before forwarding them.
const OFFENCES = new Set<UpsertResult>([
  "bad-signature",
  "undecodable",
  "wrong-network",
  "too-large",
]);

/**
 * Discovery on one endpoint: keeps our signed entry announced, the catalog
 * of every other peer current, gossip neighbours connected and RTTs measured.
 *
 * @example
 * ```ts ignore
 * import { Endpoint, networkId } from "@mosaik/transport";
 * import { Discovery } from "@mosaik/discovery";
 * const endpoint = await Endpoint.create({ networkId: networkId("demo") });
 * const discovery = await Discovery.create(endpoint, { bootstrap: ["<peerId>@127.0.0.1:4433"] });
 * await discovery.when.peers({ minimum: 1 });
 * console.log(discovery.catalog.peers());
 * await discovery.close();
 * await endpoint.close();
 * ```
 */
export class Discovery {
  /** Every other peer's latest entry. */
  readonly catalog: Catalog;
  /** Our own entry. */
  readonly local: LocalEntry;
  /** Counters for metrics. */
  readonly stats: DiscoveryStats = ZERO_STATS();
  /** Waits for conditions on the catalog. */
  readonly when: { peers(o: { minimum: number; tags?: Tag[] }): Promise<void> };

  #endpoint: Endpoint;
  #opts: Required<
    Omit<
      DiscoveryOptions,
      | "bootstrap"
      | "tags"
      | "sources"
      | "gossip"
      | "addresses"
      | "region"
      | "zone"
      | "location"
      | "vivaldi"
    >
  >;
  #clock = new TimerScheduler();
  #hv: HyParView;
  #pt: Plumtree;
  #links: Links;
  #rtt = new RttEstimator();
  #vivaldi: Vivaldi;
  #vivaldiErrorMax: number;
  #bootstrap: PeerInfo[];
  #sources: BootstrapSource[];
  #abort = new AbortController();
  #closed = false;
  #pendingAnnounce = true;
  #tasks = new Set<Promise<unknown>>();
  #channels = new Set<Channel>();
  #waiters = new Set<{ check(): boolean; reject(e: Error): void }>();
  #syncedOnce = new Set<PeerId>();
  #verifying = new Map<string, Promise<UpsertResult>>();
  #offences = new Map<PeerId, { count: number; until: number; last: number }>();
  #unsubscribe: (() => void)[] = [];
  #cancelPurge: (() => void) | undefined;
  #cancelAntiEntropy: (() => void) | undefined;
  #antiEntropyDelay = ANTI_ENTROPY_MIN;
  #purgeAt = Infinity;

  private constructor(endpoint: Endpoint, options: DiscoveryOptions) {
    this.#endpoint = endpoint;
    this.#opts = {
      purgeAfter: options.purgeAfter ?? 300_000,
      announceInterval: options.announceInterval ?? 45_000,
      announceJitter: options.announceJitter ?? 0.5,
      maxDrift: options.maxDrift ?? 50_000,
      syncInterval: options.syncInterval ?? 30_000,
      rttProbeInterval: options.rttProbeInterval ?? 30_000,
      requestTimeout: options.requestTimeout ?? 5_000,
      maxGossipMessage: options.maxGossipMessage ?? 8_192,
      departureWindow: options.departureWindow ?? 500,
      banDuration: options.banDuration ?? 60_000,
    };
    this.#bootstrap = (options.bootstrap ?? []).map((a) => {
      const { peerId, address } = parsePeerAddress(a);
      return { id: peerId, addresses: [address] };
    });
    this.#sources = options.sources ?? [];
    this.#vivaldi = new Vivaldi(options.vivaldi);
    this.#vivaldiErrorMax = options.vivaldi?.errorMax ?? VIVALDI_DEFAULTS.errorMax;
    const { region, zone, location } = options;
    this.catalog = new Catalog(endpoint.networkId, endpoint.peerId, {
      purgeAfter: this.#opts.purgeAfter,
      maxDrift: this.#opts.maxDrift,
    });
    this.local = new LocalEntry(
      endpoint.secretKey,
      endpoint.networkId,
      options.addresses ?? advertisedAddresses(endpoint.hostPort),
      options.tags ?? [],
      (signed, changed) => this.#announce(signed, changed),
      { placement: checkPlacement({ region, zone, location }), coordinate: () => this.coordinate },
    );
    this.#links = new Links(endpoint, GOSSIP_PROTOCOL, (peer) => this.#hv.failed(peer));
    const gossip = options.gossip ?? {};
    this.#hv = new HyParView(
      { id: endpoint.peerId, addresses: this.local.entry.addresses },
      gossip,
      {
        send: (to, m) => this.#send(to, m),
        release: (peer) => this.#links.release(peer),
        neighborUp: (peer) => this.#neighborUp(peer),
        neighborDown: (peer) => this.#pt.neighborDown(peer),
      },
      this.#clock,
    );
    this.#pt = new Plumtree(gossip, {
      send: (to, m) => {
        const info = this.#hv.active.get(to);
        if (info) this.#send(info, m);
      },
      deliver: (payload, from) => this.#deliver(payload, from),
      id: (payload) => toHex(blake3(payload)).slice(0, 32),
    }, this.#clock);
    this.when = {
      peers: ({ minimum, tags = [] }) =>
        this.#wait(() =>
          this.catalog.peers().filter((e) => tags.every((t) => e.tags.includes(t))).length >=
            minimum
        ),
    };
  }

  /**
   * Starts discovery on `endpoint`: registers the gossip, sync and ping
   * protocols, joins through the bootstrap peers and starts the sources.
   */
  static create(endpoint: Endpoint, options: DiscoveryOptions = {}): Promise<Discovery> {
    const d = new Discovery(endpoint, options);
    d.#start();
    return Promise.resolve(d);
  }

  /**
   * The RTT to `peer`: the smoothed RTT of our samples (RFC 6298) when we
   * measured it, else the distance between our network coordinate and the
   * one in its entry once both took samples, else undefined.
   */
  rtt(peer: PeerId): PeerRtt | undefined {
    const measured = this.#rtt.srtt(peer);
    if (measured !== undefined) return { ms: measured, source: "measured" };
    const theirs = this.catalog.get(peer)?.coordinate;
    if (!theirs || !this.#settled(theirs) || !this.#settled(this.coordinate)) return undefined;
    const ms = this.#vivaldi.predict(theirs);
    return ms === undefined ? undefined : { ms, source: "predicted" };
  }

  /** This node's network coordinate (also carried in its entry from the next refresh on). */
  get coordinate(): Coordinate {
    return this.#vivaldi.coordinate;
  }

  /** Records an RTT sample measured elsewhere (streams, groups). */
  recordRtt(peer: PeerId, ms: number): void {
    this.#sample(peer, ms, this.catalog.get(peer)?.coordinate);
  }

  #sample(peer: PeerId, ms: number, coordinate: Coordinate | undefined): void {
    this.#rtt.record(peer, ms);
    if (coordinate) this.#vivaldi.update(peer, coordinate, ms);
  }

  /** Whether a coordinate took at least one sample (a fresh one predicts nothing). */
  #settled(c: Coordinate): boolean {
    return c.error < this.#vivaldiErrorMax;
  }

  /** Current gossip neighbours (the HyParView active view). */
  neighbors(): PeerId[] {
    return [...this.#hv.active.keys()];
  }

  /** Offers a peer address `"<peerId>@host:port"`: joins through it or syncs with it. */
  addPeer(address: string): void {
    let info: PeerInfo;
    try {
      const { peerId, address: hostPort } = parsePeerAddress(address);
      info = { id: peerId, addresses: [hostPort] };
    } catch {
      bump(this.stats.dropped, "bad-address");
      return;
    }
    this.#contact(info);
  }

  /**
   * Exchanges catalogs with a peer (`"<peerId>@host:port"` or a known id)
   * both ways; resolves once both sides merged.
   */
  async syncWith(peer: string): Promise<void> {
    let info: PeerInfo;
    if (peer.includes("@")) {
      const { peerId, address } = parsePeerAddress(peer);
      info = { id: peerId, addresses: [address] };
    } else {
      const known = this.catalog.get(peer as PeerId);
      if (!known) throw new DecodeError(`unknown peer ${peer}`);
      info = { id: known.peerId, addresses: known.addresses };
    }
    await this.#sync(info);
  }

  /** Measures the round trip to `peer` (records it) and returns it in ms. */
  async ping(peer: PeerId, addresses?: readonly string[]): Promise<number> {
    const addrs = addresses ?? this.catalog.get(peer)?.addresses ?? [];
    return await this.#request(peer, addrs, PING_PROTOCOL, async (ch) => {
      const nonce = crypto.getRandomValues(new Uint8Array(8));
      const t0 = performance.now();
      await ch.send(nonce);
      bump(this.stats.sent, "ping");
      const back = await ch.recv();
      const ms = performance.now() - t0;
      // The pong carries the peer's current coordinate, as serf's probe acks do.
      const [echo, coordinate] = array(back, "pong", 2, 2);
      if (
        !(echo instanceof Uint8Array) || echo.length !== 8 || echo.some((b, i) => b !== nonce[i])
      ) {
        throw new DecodeError("bad pong");
      }
      bump(this.stats.received, "pong");
      this.#sample(peer, ms, decodeCoordinate(coordinate));
      return ms;
    });
  }

  /**
   * Leaves: broadcasts a signed departure to every neighbour, tells them we
   * leave, stops timers and sources. Does not close the endpoint.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const departure = signDeparture(
      this.#endpoint.secretKey,
      this.#endpoint.networkId,
      this.local.entry.version,
    );
    this.#pt.broadcast(
      encode(encodeAnnouncement({ kind: "departure", bytes: departure.bytes })),
      true,
    );
    this.#hv.leave();
    this.#closed = true;
    this.#abort.abort();
    for (const u of this.#unsubscribe) u();
    this.#cancelPurge?.();
    this.#cancelAntiEntropy?.();
    this.#pt.close();
    this.#clock.close();
    for (const w of this.#waiters) w.reject(new ClosedError("discovery closed"));
    this.#waiters.clear();
    await Promise.allSettled(this.#sources.map((s) => s.close()));
    await this.#links.close(encode([FLUSH]), this.#opts.departureWindow);
    for (const ch of this.#channels) ch.close(CloseCode.GracefulShutdown).catch(() => {});
    // Requests still dialing an unreachable peer end when the endpoint closes.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#tasks]),
      new Promise((r) => timer = setTimeout(r, this.#opts.departureWindow)),
    ]);
    clearTimeout(timer);
  }

  // ---- start-up and timers ----

  #start(): void {
    const e = this.#endpoint;
    e.handle(GOSSIP_PROTOCOL, (ch) => this.#serveGossip(ch));
    e.handle(SYNC_PROTOCOL, (ch) => this.#bounded(ch, () => this.#serveSync(ch)));
    e.handle(PING_PROTOCOL, (ch) => this.#bounded(ch, () => this.#servePing(ch)));
    this.#unsubscribe.push(
      e.onDisconnect((peer) => this.#hv.failed(peer)),
      this.catalog.subscribe((ev) => {
        if (ev.type === "discovered" || ev.type === "updated") {
          this.#armPurge();
          if (!this.#banned(ev.entry.peerId)) {
            this.#hv.learn({ id: ev.entry.peerId, addresses: ev.entry.addresses });
          }
        } else {
          this.#rtt.forget(ev.entry.peerId);
          this.#vivaldi.forget(ev.entry.peerId);
          this.#syncedOnce.delete(ev.entry.peerId);
        }
        for (const w of [...this.#waiters]) w.check();
      }),
    );
    for (const b of this.#bootstrap) this.#contact(b);
    this.#every(this.#opts.announceInterval, this.#opts.announceJitter, () => this.local.refresh());
    this.#scheduleAntiEntropy();
    this.#every(this.#opts.rttProbeInterval, 0.5, () => this.#probe());
    this.#every(500, 0.2, () => this.#maintain());
    const ctx: BootstrapContext = {
      networkId: e.networkId,
      secretKey: e.secretKey,
      localAddresses: () => [...this.local.entry.addresses],
      peerCount: () => this.catalog.size,
      addPeer: (a) => this.addPeer(a),
      signal: this.#abort.signal,
    };
    for (const s of this.#sources) {
      this.#track(
        Promise.resolve().then(() => s.start(ctx)).catch((err) => {
          console.error(`bootstrap source ${s.name} failed`, err);
        }),
      );
    }
  }

  #every(period: number, jitter: number, fn: () => void): void {
    const delay = period * (1 - jitter + 2 * jitter * Math.random());
    this.#clock.after(delay, () => {
      if (this.#closed) return;
      fn();
      this.#every(period, jitter, fn);
    });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    p.catch(() => {}).finally(() => this.#tasks.delete(p));
    return p;
  }

  #armPurge(): void {
    const next = this.catalog.nextExpiry();
    if (next === undefined || next >= this.#purgeAt) return;
    this.#cancelPurge?.();
    this.#purgeAt = next;
    this.#cancelPurge = this.#clock.after(Math.max(0, next - Date.now()) + 1, () => {
      this.#purgeAt = Infinity;
      this.#cancelPurge = undefined;
      this.catalog.purge();
      this.#armPurge();
    });
  }

  #wait(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ClosedError("discovery closed"));
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          if (!check()) return false;
          this.#waiters.delete(w);
          resolve();
          return true;
        },
        reject,
      };
      this.#waiters.add(w);
    });
  }

  /** Joins the overlay through a peer when we have no neighbour, else syncs with it once. */
  #contact(info: PeerInfo): void {
    if (this.#closed || info.id === this.#endpoint.peerId || this.#banned(info.id)) return;
    if (this.#hv.active.size === 0) this.#hv.join(info);
    else if (!this.#syncedOnce.has(info.id)) this.#track(this.#sync(info).catch(() => {}));
    this.#hv.learn(info);
  }

  /** Periodic upkeep: top the active view up, rejoin through known peers when isolated. */
  #maintain(): void {
    if (this.#hv.active.size > 0) return this.#hv.topUp();
    const candidates = [
      ...this.#bootstrap,
      ...this.catalog.peers().map((e) => ({ id: e.peerId, addresses: e.addresses })),
    ];
    const target = pick(candidates);
    if (target) this.#hv.join(target);
  }

  // Anti-entropy runs soon after every change of our neighbours or entry and
  // backs off (doubling) to `syncInterval` while nothing changes, so a lost
  // broadcast is repaired quickly without periodic chatter in steady state.
  #scheduleAntiEntropy(): void {
    this.#cancelAntiEntropy?.();
    const delay = this.#antiEntropyDelay * (0.75 + 0.5 * Math.random());
    this.#antiEntropyDelay = Math.min(this.#antiEntropyDelay * 2, this.#opts.syncInterval);
    this.#cancelAntiEntropy = this.#clock.after(delay, () => {
      const target = pick([...this.#hv.active.values()]);
      if (target) this.#track(this.#sync(target).catch(() => {}));
      this.#scheduleAntiEntropy();
    });
  }

  #hurryAntiEntropy(): void {
    if (this.#closed || this.#antiEntropyDelay <= ANTI_ENTROPY_MIN * 2) return;
    this.#antiEntropyDelay = ANTI_ENTROPY_MIN;
    this.#scheduleAntiEntropy();
  }

  #probe(): void {
    const peers = new Set<PeerId>(this.#hv.active.keys());
    for (const p of this.#endpoint.connectedPeers()) peers.add(p);
    for (const p of peers) {
      const addrs = this.#hv.active.get(p)?.addresses ?? this.catalog.get(p)?.addresses;
      if (addrs) this.#track(this.ping(p, addrs).catch(() => {}));
    }
  }

  // ---- gossip ----

  #send(to: PeerInfo, m: GossipMessage): void {
    if (this.#closed) return;
    bump(this.stats.sent, m.kind);
    const bytes = encode(encodeGossip(m));
    this.stats.gossipBytesSent += bytes.length;
    this.#links.send(to.id, to.addresses, bytes);
  }

  #neighborUp(peer: PeerInfo): void {
    this.#pt.neighborUp(peer.id);
    this.#hurryAntiEntropy();
    if (this.#pendingAnnounce) this.#announce(this.local.signed);
    // One side of every first contact reconciles catalogs (anti-entropy covers
    // later ones); a node that was isolated catches up with its first
    // neighbour at once, as it may have missed broadcasts.
    const rejoined = this.#hv.active.size === 1 && this.#syncedOnce.size > 0;
    if (rejoined || (this.#endpoint.peerId < peer.id && !this.#syncedOnce.has(peer.id))) {
      this.#track(this.#sync(peer).catch(() => {}));
    }
  }

  #announce(signed: SignedPeerEntry, changed = false): void {
    if (this.#closed) return;
    this.#hv.self = { id: signed.entry.peerId, addresses: signed.entry.addresses };
    if (changed) this.#hurryAntiEntropy();
    if (this.#hv.active.size === 0) {
      this.#pendingAnnounce = true;
      return;
    }
    this.#pendingAnnounce = false;
    let payload = encode(encodeAnnouncement({ kind: "entry", bytes: signed.bytes }));
    if (payload.length > this.#opts.maxGossipMessage) {
      const e = signed.entry;
      payload = encode(encodeAnnouncement({
        kind: "notice",
        peer: { id: e.peerId, addresses: e.addresses },
        version: e.version,
      }));
    }
    this.stats.broadcasts++;
    this.#pt.broadcast(payload);
  }

  async #serveGossip(ch: Channel): Promise<void> {
    if (this.#closed) return await ch.close(CloseCode.GracefulShutdown);
    if (await this.#refuse(ch)) return;
    this.#channels.add(ch);
    try {
      for (;;) {
        let raw: unknown;
        try {
          raw = await ch.recv();
        } catch (e) {
          if (e instanceof DecodeError) {
            bump(this.stats.dropped, "undecodable-message");
            this.#offend(ch.peerId);
          }
          return;
        }
        if (raw === undefined) return;
        if (Array.isArray(raw) && raw.length === 1 && raw[0] === FLUSH) {
          await ch.send([FLUSHED]);
          continue;
        }
        if (this.#closed || this.#banned(ch.peerId)) continue;
        let m: GossipMessage;
        try {
          m = decodeGossip(raw, this.#opts.maxGossipMessage);
        } catch {
          bump(this.stats.dropped, "undecodable-message");
          this.#offend(ch.peerId);
          await ch.close(CloseCode.ProtocolViolation, "malformed gossip message");
          return;
        }
        bump(this.stats.received, m.kind);
        if (m.kind === "gossip" || m.kind === "ihave" || m.kind === "graft" || m.kind === "prune") {
          this.#pt.handle(ch.peerId, m);
        } else {
          this.#hv.handle(ch.peerId, m);
        }
      }
    } finally {
      this.#channels.delete(ch);
    }
  }

  #deliver(payload: Uint8Array, from: PeerId): boolean | Promise<boolean> {
    let a: Announcement;
    try {
      a = decodeAnnouncement(decode(payload));
    } catch {
      bump(this.stats.dropped, "undecodable");
      this.#offend(from);
      return false;
    }
    if (a.kind === "entry") {
      const r = this.#ingest(a.bytes);
      return typeof r === "string"
        ? this.#accepted(r, from)
        : r.then((x) => this.#accepted(x, from));
    }
    if (a.kind === "departure") {
      let result: UpsertResult;
      try {
        const d = decodeDeparture(a.bytes);
        result = this.catalog.depart(d);
        if (result === "updated") this.#hv.passive.delete(d.peerId);
      } catch (e) {
        result = e instanceof InvalidEntryError ? e.reason : "undecodable";
      }
      return this.#accepted(result, from);
    }
    const known = this.catalog.get(a.peer.id);
    if (
      a.peer.id !== this.#endpoint.peerId &&
      (!known || compareVersions(known.version, a.version) < 0)
    ) {
      this.#track(this.#sync(a.peer).catch(() => {}));
    }
    return true;
  }

  /**
   * Counts a refused entry (an offence of `from` if no honest node would have
   * sent it); whether a broadcast carrying it is forwarded.
   */
  #accepted(result: UpsertResult, from?: PeerId): boolean {
    if (result === "discovered" || result === "updated" || result === "unchanged") return true;
    bump(this.stats.dropped, result);
    if (from && OFFENCES.has(result)) this.#offend(from);
    return false;
  }

  /**
   * Records misbehaviour of a directly connected peer (undecodable messages,
   * forged or foreign entries: honest nodes verify before forwarding). After
   * `OFFENCE_LIMIT` offences the peer is banned for `banDuration`: its
   * channels are refused and it leaves our views.
   */
  #offend(peer: PeerId): void {
    const now = Date.now();
    let o = this.#offences.get(peer);
    // Offences count within one ban duration; the table stays bounded.
    if (!o || (o.until <= now && now - o.last > this.#opts.banDuration)) {
      o = { count: 0, until: 0, last: now };
    }
    o.last = now;
    this.#offences.delete(peer);
    this.#offences.set(peer, o);
    if (this.#offences.size > 4096) this.#offences.delete(this.#offences.keys().next().value!);
    if (++o.count < OFFENCE_LIMIT) return;
    o.count = 0;
    o.until = now + this.#opts.banDuration;
    bump(this.stats.dropped, "banned-peer");
    this.#hv.failed(peer);
  }

  #banned(peer: PeerId): boolean {
    const o = this.#offences.get(peer);
    if (!o || o.until === 0) return false;
    if (o.until > Date.now()) return true;
    this.#offences.delete(peer);
    return false;
  }

  /** Refuses a channel from a banned peer; returns whether it did. */
  async #refuse(ch: Channel): Promise<boolean> {
    if (!this.#banned(ch.peerId)) return false;
    bump(this.stats.dropped, "from-banned-peer");
    await ch.close(CloseCode.ProtocolViolation, "banned");
    return true;
  }

  /**
   * Takes an entry from the wire into the catalog. Cheap checks run first
   * (known version, network, expiry), so a signature is verified only for an
   * entry that would be stored, and only once while that check is in flight.
   */
  #ingest(raw: Uint8Array): UpsertResult | Promise<UpsertResult> {
    let p: ParsedEntry;
    try {
      p = parseEntry(raw);
    } catch (e) {
      return e instanceof InvalidEntryError ? e.reason : "undecodable";
    }
    const e = p.entry;
    if (e.peerId === this.#endpoint.peerId) return "unchanged";
    const verdict = this.catalog.assess(e);
    if (verdict !== undefined) {
      const known = this.catalog.signed(e.peerId)?.bytes;
      const same = known !== undefined && known.length === raw.length &&
        known.every((b, i) => b === raw[i]);
      if (verdict !== "unchanged" || same) return verdict;
    }
    if (this.catalog.get(e.peerId)) {
      // An update of a known peer is verified synchronously: it is rare and
      // latency matters (it lands before anything the peer sends afterwards
      // on other channels); bulk discovery of new peers takes the faster,
      // asynchronous WebCrypto path below.
      try {
        return this.catalog.upsert(verifyParsedEntrySync(p));
      } catch (err) {
        return err instanceof InvalidEntryError ? err.reason : "undecodable";
      }
    }
    const key = `${e.peerId}/${e.version.start}/${e.version.counter}/${raw.length}`;
    let pending = this.#verifying.get(key);
    if (!pending) {
      pending = verifyParsedEntry(p).then(
        (signed) => this.#closed ? "unchanged" : this.catalog.upsert(signed),
        (err) => err instanceof InvalidEntryError ? err.reason : "undecodable",
      ).finally(() => this.#verifying.delete(key));
      this.#verifying.set(key, pending);
      return pending;
    }
    // A second copy while the first is verified: report it as known.
    return pending.then((r) => r === "discovered" || r === "updated" ? "unchanged" : r);
  }

  // ---- catalog sync ----

  async #request<T>(
    peer: PeerId,
    addresses: readonly string[],
    protocol: string,
    run: (ch: Channel) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new ClosedError("discovery closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ch: Channel | undefined;
    const work = (async () => {
      ch = await this.#endpoint.open(peer, addresses, protocol);
      this.#channels.add(ch);
      const result = await run(ch);
      await ch.close();
      return result;
    })();
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`${protocol} with ${peer} timed out`)),
        this.#opts.requestTimeout,
      );
    });
    try {
      return await Promise.race([work, limit]);
    } finally {
      clearTimeout(timer);
      work.catch(() => {});
      if (ch) {
        this.#channels.delete(ch);
        ch.close(CloseCode.Cancelled).catch(() => {});
      }
    }
  }

  #ownSummary(): Map<PeerId, PeerEntry["version"]> {
    const s = this.catalog.summary();
    s.set(this.#endpoint.peerId, this.local.entry.version);
    return s;
  }

  /** Entries (ours included) that `theirs` lacks or holds older. */
  #newerThan(theirs: Map<PeerId, PeerEntry["version"]>): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const s of [...this.catalog.signedEntries(), this.local.signed]) {
      const v = theirs.get(s.entry.peerId);
      if (!v || compareVersions(v, s.entry.version) < 0) out.push(s.bytes);
    }
    return out;
  }

  /** Merges synced entries from `from`; returns how many were new or newer. */
  async #merge(entries: unknown, from: PeerId): Promise<number> {
    const results = await Promise.all(
      array(entries, "entries", MAX_SYNC_ENTRIES).map((raw) =>
        raw instanceof Uint8Array ? this.#ingest(raw) : "undecodable" as const
      ),
    );
    let learned = 0;
    for (const r of results) {
      this.#accepted(r, from);
      if (r === "discovered" || r === "updated") learned++;
    }
    return learned;
  }

  async #sync(peer: PeerInfo): Promise<void> {
    this.#syncedOnce.add(peer.id);
    try {
      await this.#request(peer.id, peer.addresses, SYNC_PROTOCOL, async (ch) => {
        await ch.send(encodeSummary(this.#ownSummary()));
        bump(this.stats.sent, "sync");
        const reply = array(await ch.recv(), "sync reply", 2, 2);
        bump(this.stats.received, "sync");
        const theirs = decodeSummary(reply[1], MAX_SYNC_ENTRIES);
        // A sync that taught us something suggests we missed broadcasts:
        // keep anti-entropy fast until syncs come back empty.
        if (await this.#merge(reply[0], peer.id) > 0) this.#hurryAntiEntropy();
        await ch.send(this.#newerThan(theirs));
        bump(this.stats.sent, "sync");
        const done = await ch.recv();
        if (done !== "done") throw new DecodeError("sync not acknowledged");
      });
      this.stats.syncs++;
    } catch (e) {
      this.stats.syncFailures++;
      throw e;
    }
  }

  /** Runs an acceptor, closing its channel if the remote stalls past `requestTimeout`. */
  async #bounded(ch: Channel, serve: () => Promise<void>): Promise<void> {
    const timer = setTimeout(() => {
      bump(this.stats.dropped, "request-timeout");
      ch.close(CloseCode.Cancelled, "request timed out").catch(() => {});
    }, this.#opts.requestTimeout);
    try {
      await serve();
    } finally {
      clearTimeout(timer);
    }
  }

  async #serveSync(ch: Channel): Promise<void> {
    if (this.#closed) return await ch.close(CloseCode.GracefulShutdown);
    if (await this.#refuse(ch)) return;
    this.#channels.add(ch);
    try {
      const theirs = decodeSummary(await ch.recv(), MAX_SYNC_ENTRIES);
      bump(this.stats.received, "sync");
      await ch.send([this.#newerThan(theirs), encodeSummary(this.#ownSummary())]);
      bump(this.stats.sent, "sync");
      await this.#merge(await ch.recv(), ch.peerId);
      bump(this.stats.received, "sync");
      await ch.send("done");
      this.stats.syncs++;
      await ch.close();
    } catch (e) {
      if (e instanceof DecodeError) {
        bump(this.stats.dropped, "undecodable-message");
        this.#offend(ch.peerId);
      }
      this.stats.syncFailures++;
      throw e;
    } finally {
      this.#channels.delete(ch);
    }
  }

  async #servePing(ch: Channel): Promise<void> {
    if (this.#closed) return await ch.close(CloseCode.GracefulShutdown);
    if (await this.#refuse(ch)) return;
    const nonce = await ch.recv();
    if (!(nonce instanceof Uint8Array) || nonce.length !== 8) {
      throw new DecodeError("bad ping");
    }
    bump(this.stats.received, "ping");
    await ch.send([nonce, encodeCoordinate(this.coordinate)]);
    bump(this.stats.sent, "pong");
    await ch.recv();
  }
}
