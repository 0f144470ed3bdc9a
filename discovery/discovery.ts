/**
 * {@linkcode Discovery}: runs membership gossip, broadcast of signed
 * entries, catalog sync and ping on an {@linkcode Endpoint}.
 *
 * @module
 */
import {
  CloseCode,
  ClosedError,
  DecodeError,
  type Endpoint,
  parsePeerAddress,
  type PeerId,
  type WaitOptions,
} from "@mosaik/transport";
import type { BootstrapContext, BootstrapSource, SourceReport } from "./bootstrap.ts";
import { Catalog, type UpsertResult } from "./catalog.ts";
import { Expiry } from "./_expiry.ts";
import { signDeparture } from "./departure.ts";
import type { SignedPeerEntry } from "./entry.ts";
import { AntiEntropy, outsider } from "./_anti_entropy.ts";
import { Gossip } from "./_gossip.ts";
import type { PeerInfo } from "./_hyparview.ts";
import { Ingest } from "./_ingest.ts";
import { serveProtocols } from "./_serve.ts";
import { LocalEntry } from "./local.ts";
import { discoveryLog } from "./_log.ts";
import { ADDRESS_CHECK, OwnAddresses } from "./_observed.ts";
import { OFFENCES, Offences } from "./_offences.ts";
import { type DiscoveryOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { ping } from "./_ping.ts";
import { PeerRate } from "./_rate.ts";
import { Requests } from "./_requests.ts";
import { Latency, type PeerRtt } from "./_latency.ts";
import { checkPlacement } from "./placement.ts";
import type { Coordinate } from "./vivaldi.ts";
import { every, pick, TimerScheduler } from "./_scheduler.ts";
import { bump, type DiscoveryStats, newStats } from "./stats.ts";
import { CatalogSync } from "./_sync.ts";
import { CatalogWaiters, type DiscoveryWhen } from "./_when.ts";

export { GOSSIP_PROTOCOL } from "./_gossip.ts";
export type { PeerRtt } from "./_latency.ts";
export { PING_PROTOCOL } from "./_ping.ts";
export { SYNC_PROTOCOL } from "./_sync.ts";
export type { DiscoveryWhen, PeersCondition } from "./_when.ts";

/**
 * Discovery on one endpoint: keeps our signed entry announced, the catalog
 * of every other peer current, gossip neighbours connected and RTTs measured.
 *
 * @example
 * ```ts ignore
 * import { Endpoint, networkId } from "@mosaik/transport";
 * import { Discovery } from "@mosaik/discovery";
 * const endpoint = await Endpoint.create({ networkId: networkId("demo") });
 * await using discovery = await Discovery.create(endpoint, {
 *   bootstrap: ["<peerId>@127.0.0.1:4433"],
 * });
 * await discovery.when.peers({ minimum: 1 });
 * console.log(discovery.catalog.peers());
 * ```
 */
export class Discovery implements AsyncDisposable {
  /** Every other peer's latest entry. */
  readonly catalog: Catalog;
  /** Our own entry. */
  readonly local: LocalEntry;
  /** Counters for metrics. */
  readonly stats: DiscoveryStats = newStats();
  /** Waits for conditions on the catalog. */
  readonly when: DiscoveryWhen;

  #endpoint: Endpoint;
  #opts: ResolvedOptions;
  #clock = new TimerScheduler();
  #gossip: Gossip;
  #sync: CatalogSync;
  #requests: Requests;
  #offences: Offences;
  #latency: Latency;
  #bootstrap: PeerInfo[];
  #sources: BootstrapSource[];
  #abort = new AbortController();
  #closed = false;
  #pendingAnnounce = true;
  #when: CatalogWaiters;
  #unsubscribe: (() => void)[] = [];
  #antiEntropy: AntiEntropy;
  #expiry: Expiry;
  #own: OwnAddresses;

  private constructor(endpoint: Endpoint, options: DiscoveryOptions) {
    this.#endpoint = endpoint;
    const opts = this.#opts = resolveOptions(options);
    this.#bootstrap = (options.bootstrap ?? []).map((a) => {
      const { peerId, address } = parsePeerAddress(a);
      return { id: peerId, addresses: [address] };
    });
    this.#sources = options.sources ?? [];
    this.#latency = new Latency(options.vivaldi);
    const { region, zone, location } = options;
    const given = { fixed: options.addresses, extra: options.extraAddresses };
    this.#own = new OwnAddresses(endpoint.hostPort, given, (addresses) => {
      if (!this.#closed) this.local.setAddresses(addresses);
    });
    this.catalog = new Catalog(endpoint.networkId, endpoint.peerId, {
      purgeAfter: opts.purgeAfter,
      maxDrift: opts.maxDrift,
      maxPeers: opts.maxPeers,
      maxBytes: opts.maxCatalogBytes,
      maxChurn: opts.maxCatalogChurn,
      keep: (peer) =>
        this.#gossip.hv.active.has(peer) || this.#endpoint.connection(peer) !== undefined,
    });
    this.local = new LocalEntry(
      endpoint.secretKey,
      endpoint.networkId,
      this.#own.current(),
      options.tags ?? [],
      (signed, changed) => this.#announce(signed, changed),
      { placement: checkPlacement({ region, zone, location }), coordinate: () => this.coordinate },
    );
    this.#offences = new Offences(opts.banDuration, (peer) => {
      this.stats.bans++;
      bump(this.stats.dropped, "banned-peer");
      this.#gossip.hv.failed(peer);
    });
    this.#requests = new Requests(endpoint, opts.requestTimeout, this.stats);
    const ingest = new Ingest(this.catalog, endpoint.peerId, opts, () => this.#closed);
    const offend = (peer: PeerId, what: string) => this.#offences.offend(peer, what);
    this.#sync = new CatalogSync({
      self: endpoint.peerId,
      catalog: this.catalog,
      local: this.local,
      ingest,
      requests: this.#requests,
      rate: new PeerRate(opts.maxSyncRate),
      stats: this.stats,
      options: opts,
      judge: (r, from) => {
        this.#accepted(r, from);
        return !this.#offences.banned(from);
      },
      offend,
    });
    this.#gossip = new Gossip(
      {
        endpoint,
        catalog: this.catalog,
        ingest,
        requests: this.#requests,
        rate: new PeerRate(opts.maxGossipRate),
        stats: this.stats,
        options: opts,
        clock: this.#clock,
        accept: (r, from) => this.#accepted(r, from),
        offend,
        banned: (peer) => this.#offences.banned(peer),
        neighborUp: (peer) => this.#neighborUp(peer),
        rtt: (peer) => this.rtt(peer)?.ms,
        fetch: (peer) => this.#syncSoon(peer),
      },
      this.local.entry.addresses,
      options.gossip ?? {},
    );
    // A purge scans the catalog: at most one a second (sooner for tiny purgeAfter).
    this.#expiry = new Expiry(this.catalog, this.#clock, Math.min(1000, opts.purgeAfter / 4));
    this.#antiEntropy = new AntiEntropy(this.#clock, opts.syncInterval, {
      neighbor: () => pick([...this.#gossip.hv.active.values()]),
      outsider: (connected) =>
        outsider(this.catalog, connected && this.#endpoint, this.#gossip.hv.active, this.#offences),
      sync: (peer) => this.#syncSoon(peer, true),
    });
    this.when = this.#when = new CatalogWaiters(this.catalog);
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
    return this.#latency.rtt(peer, this.catalog.get(peer)?.coordinate);
  }

  /** This node's network coordinate (also carried in its entry from the next refresh on). */
  get coordinate(): Coordinate {
    return this.#latency.coordinate;
  }

  /** Records an RTT sample measured elsewhere (streams, groups). */
  recordRtt(peer: PeerId, ms: number): void {
    this.#latency.record(peer, ms, this.catalog.get(peer)?.coordinate);
  }

  /** Current gossip neighbours (the HyParView active view). */
  neighbors(): PeerId[] {
    return [...this.#gossip.hv.active.keys()];
  }

  /**
   * Whether peers see this node at an address none of its interfaces has:
   * a NAT stands between, so peers may not be able to dial it (see relays).
   */
  get behindNat(): boolean {
    return this.#own.behindNat;
  }

  /** Re-reads the addresses to advertise now (else every few seconds); re-announces on change. */
  checkAddresses(): void {
    this.#own.check();
  }

  /** How each bootstrap source (mDNS, DHT, ...) is doing; a failing one also warned once. */
  sources(): SourceReport[] {
    return this.#sources.map((s) => ({ name: s.name, ...(s.status?.() ?? { state: "running" }) }));
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
  async syncWith(peer: string, options: WaitOptions = {}): Promise<void> {
    let info: PeerInfo;
    if (peer.includes("@")) {
      const { peerId, address } = parsePeerAddress(peer);
      info = { id: peerId, addresses: [address] };
    } else {
      const known = this.catalog.get(peer as PeerId);
      if (!known) throw new DecodeError(`unknown peer ${peer}`);
      info = { id: known.peerId, addresses: known.addresses };
    }
    options.signal?.throwIfAborted();
    await this.#syncWith(info);
  }

  /** Measures the round trip to `peer` (records it) and returns it in ms. */
  async ping(peer: PeerId, addresses?: readonly string[]): Promise<number> {
    const addrs = addresses ?? this.catalog.get(peer)?.addresses ?? [];
    const { ms, coordinate, ...seen } = await ping(this.#requests, this.stats, peer, addrs);
    this.#latency.record(peer, ms, coordinate);
    this.#own.observe(seen);
    this.catalog.touch(peer);
    return ms;
  }

  /**
   * Leaves: broadcasts a signed departure to every neighbour, tells them we
   * leave, stops timers and sources. Does not close the endpoint.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const departure = signDeparture(
      this.#endpoint.secretKey,
      this.#endpoint.networkId,
      this.local.entry.version,
    );
    const leaving = this.#gossip.leave(departure.bytes);
    this.#abort.abort();
    for (const u of this.#unsubscribe) u();
    this.#antiEntropy.close();
    this.#clock.close();
    this.#when.close(new ClosedError("discovery closed"));
    await Promise.allSettled(this.#sources.map((s) => s.close()));
    await leaving;
    await this.#requests.close(this.#opts.departureWindow);
  }

  /** Same as {@linkcode Discovery.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #start(): void {
    const e = this.#endpoint;
    serveProtocols(e, {
      gossip: this.#gossip,
      sync: this.#sync,
      requests: this.#requests,
      offences: this.#offences,
      catalog: this.catalog,
      stats: this.stats,
      coordinate: () => this.coordinate,
    });
    this.#unsubscribe.push(
      // a connection closed for carrying nothing says nothing about the peer
      e.onDisconnect((peer, info) => {
        if (info.code !== CloseCode.Idle) this.#gossip.hv.failed(peer);
      }),
      // A peer we dial sees the address our packets come from (the NAT's
      // mapping, if any): ask at once rather than at the next probe.
      e.onConnection((c) => {
        if (c.outbound && this.#own.shouldAsk(c.remoteAddress)) {
          this.#requests.track(this.ping(c.peerId, []));
        }
      }),
      this.catalog.subscribe((ev) => {
        if (ev.type === "discovered" || ev.type === "updated") {
          this.#expiry.arm(ev.entry.version.counter + this.#opts.purgeAfter);
          const signed = this.catalog.signed(ev.entry.peerId);
          if (signed) this.#gossip.learned(signed, this.#offences.banned(ev.entry.peerId));
        } else {
          if (ev.type === "evicted") this.stats.catalogEvicted++;
          this.#latency.forget(ev.entry.peerId);
          this.#sync.synced.delete(ev.entry.peerId);
        }
        this.#when.changed();
      }),
    );
    for (const b of this.#bootstrap) this.#contact(b);
    const o = this.#opts;
    every(this.#clock, o.announceInterval, o.announceJitter, () => this.local.refresh());
    every(this.#clock, o.rttProbeInterval, 0.5, () => this.#probe());
    every(this.#clock, 500, 0.2, () => this.#maintain());
    every(this.#clock, ADDRESS_CHECK, 0.2, () => this.#own.check());
    const ctx: BootstrapContext = {
      networkId: e.networkId,
      secretKey: e.secretKey,
      localAddresses: () => [...this.local.entry.addresses],
      listenAddress: e.hostPort,
      peerCount: () => this.catalog.size,
      addPeer: (a) => this.addPeer(a),
      signal: this.#abort.signal,
    };
    for (const s of this.#sources) {
      this.#requests.track(
        Promise.resolve().then(() => s.start(ctx)).catch((err) => {
          discoveryLog.error(`bootstrap source ${s.name} failed`, err);
        }),
      );
    }
  }

  /** Joins the overlay through a peer when we have no neighbour, else syncs with it once. */
  #contact(info: PeerInfo): void {
    const hv = this.#gossip.hv;
    if (this.#closed || info.id === this.#endpoint.peerId || this.#offences.banned(info.id)) return;
    if (hv.active.size === 0) hv.join(info);
    else if (!this.#sync.synced.has(info.id)) this.#syncSoon(info, true);
    hv.learn(info);
  }

  /** Periodic upkeep: top the active view up, rejoin through known peers when isolated. */
  #maintain(): void {
    const hv = this.#gossip.hv;
    if (hv.active.size > 0) return hv.topUp();
    const target = pick([
      ...this.#bootstrap,
      ...this.catalog.peers().map((e) => ({ id: e.peerId, addresses: e.addresses })),
    ]);
    if (target) hv.join(target);
  }

  #probe(): void {
    const peers = new Set<PeerId>(this.#gossip.hv.active.keys());
    // peers we use (streams, groups); probing idle connections would keep them open for good
    for (const p of this.#endpoint.connectedPeers()) {
      if ((this.#endpoint.connection(p)?.channelCount ?? 0) > 0) peers.add(p);
    }
    // Plus one random peer, as serf probes random members: the coordinate
    // learns from far peers too, not only from its neighbours.
    const all = this.catalog.peers();
    if (all.length > 0) peers.add(all[Math.floor(Math.random() * all.length)].peerId);
    for (const p of peers) {
      const addrs = this.#gossip.hv.active.get(p)?.addresses ?? this.catalog.get(p)?.addresses;
      if (addrs) this.#requests.track(this.ping(p, addrs));
    }
  }

  async #syncWith(peer: PeerInfo, join = false): Promise<void> {
    const learned = await this.#sync.sync(peer, join);
    this.catalog.touch(peer.id);
    // A sync that taught us something suggests we missed broadcasts (or the
    // peer had more than one message holds): keep anti-entropy fast until
    // syncs come back empty.
    if (learned > 0) this.#antiEntropy.hurry();
  }

  /** Syncs with `peer` in the background; `join`: see {@linkcode CatalogSync.sync}. */
  #syncSoon(peer: PeerInfo, join = false): Promise<void> {
    const sync = this.#closed ? Promise.resolve() : this.#syncWith(peer, join);
    this.#requests.track(sync);
    return sync;
  }

  #neighborUp(peer: PeerInfo): void {
    this.catalog.touch(peer.id);
    this.#antiEntropy.hurry();
    if (this.#pendingAnnounce) this.#announce(this.local.signed);
    // One side of every first contact reconciles catalogs (anti-entropy covers
    // later ones); a node that was isolated catches up with its first
    // neighbour at once, as it may have missed broadcasts.
    const synced = this.#sync.synced;
    const rejoined = this.#gossip.hv.active.size === 1 && synced.size > 0;
    if (rejoined || (this.#endpoint.peerId < peer.id && !synced.has(peer.id))) {
      this.#syncSoon(peer, true);
    }
  }

  #announce(signed: SignedPeerEntry, changed = false): void {
    if (this.#closed) return;
    this.#gossip.hv.self = { id: signed.entry.peerId, addresses: signed.entry.addresses };
    if (changed) this.#antiEntropy.hurry();
    if (this.#gossip.hv.active.size === 0) {
      this.#pendingAnnounce = true;
      return;
    }
    this.#pendingAnnounce = false;
    this.#gossip.announce(signed);
  }

  /**
   * Counts a refused entry (an offence of `from` if no honest node would have
   * sent it); whether a broadcast carrying it is forwarded.
   */
  #accepted(result: UpsertResult, from: PeerId): boolean {
    if (result === "discovered" || result === "updated" || result === "unchanged") return true;
    bump(this.stats.dropped, result);
    if (result === "catalog-full") this.stats.catalogFull++;
    if (OFFENCES.has(result)) this.#offences.offend(from, result);
    return false;
  }
}
