/**
 * {@linkcode Network}: one node of a mosaik network, composing the endpoint,
 * discovery and the higher subsystems.
 *
 * @module
 */
import {
  Endpoint,
  holePunching,
  type NetworkId,
  networkId,
  parseHostPort,
  type PeerId,
  type ResourceLimits,
  SecretKey,
  type Tag,
  tag,
} from "@mosaik/transport";
import {
  type BootstrapSource,
  Discovery,
  type DiscoveryOptions,
  type GeoLocation,
} from "@mosaik/discovery";
import { type ChannelInfo, Streams } from "@mosaik/streams";
import {
  type DiagnosticsOptions,
  type DiagnosticsServer,
  type NodeReport,
  serveDiagnostics,
} from "./diagnostics.ts";
import { Groups } from "@mosaik/groups";
import { checkNetworkOptions } from "./_options.ts";
import { Relaying } from "./_relays.ts";
import { lazySource } from "./_lazy_source.ts";

/** Options of {@linkcode Network.create}. */
export interface NetworkOptions {
  /**
   * `host:port` the QUIC endpoint binds. Default every interface: `"[::]:0"`
   * (dual-stack), or `"0.0.0.0:0"` where the host has no IPv6. Binding every
   * interface needs `--allow-net` for it (`--allow-net` without a list, or
   * `0.0.0.0`/`[::]` in it) and, to advertise the interface addresses,
   * `--allow-sys=networkInterfaces`. Tests on loopback pass `"127.0.0.1:0"`.
   */
  listen?: string;
  /** The node's identity: a key, or a string mapped to a seed by the digest rule. Random by default. */
  secretKey?: SecretKey | string;
  /** Peers to join through, `"<peerId>@host:port"`. */
  bootstrap?: string[];
  /** Tags to advertise: names (hashed) or tag digests. */
  tags?: (string | Tag)[];
  /** LAN discovery by mDNS (`@mosaik/discovery/mdns`). Default true. */
  mdns?: boolean;
  /**
   * Mainline DHT bootstrap (`@mosaik/discovery/dht`): `true` joins through the
   * public routers, `{ bootstrap: ["host:port"] }` through given routers,
   * `false` turns it off. Default true.
   */
  dht?: boolean | { bootstrap?: string[] };
  /** Largest frame sent or accepted, in bytes (endpoint default 8 MiB). */
  maxFrameSize?: number;
  /** Caps on connections, channels and handshakes a remote can make this node hold. */
  limits?: Partial<ResourceLimits>;
  /** Discovery tuning (intervals, expiry, gossip, extra bootstrap sources). */
  discovery?: Omit<
    DiscoveryOptions,
    "bootstrap" | "tags" | "region" | "zone" | "location" | "extraAddresses"
  >;
  /**
   * Serve as a relay for peers that cannot reach each other directly: forward
   * their end-to-end encrypted QUIC packets (within the relay limits). The
   * entry carries the `mosaik/relay` tag. Default false.
   */
  relay?: boolean;
  /**
   * Relays to keep a reservation with, `"<peerId>@host:port"`, for a node
   * peers cannot dial (behind a NAT): while reserved, its entry carries
   * `relay:<relayPeerId>@host:port`, which peers dial when direct addresses
   * fail. Default: none until peers see the node behind a NAT
   * (`discovery.behindNat`), then up to two relays from the catalog.
   */
  relays?: string[];
  /** Region this node runs in, for example `"eu-west-1"` (carried in its entry and as a tag). */
  region?: string;
  /** Zone within the region. */
  zone?: string;
  /** Geographic location of this node, in degrees. */
  location?: GeoLocation;
}

/** This node as others reach it. */
export interface LocalPeer {
  /** The node's PeerId. */
  readonly id: PeerId;
  /** `"<peerId>@host:port"`, what other nodes pass as `bootstrap` (the first advertised address). */
  readonly address: string;
  /**
   * Every advertised `host:port`: several when listening on every interface,
   * plus the address peers observe behind a NAT. Follows changes.
   */
  readonly addresses: readonly string[];
}

/**
 * A node. Create it with {@linkcode Network.create}; close it with
 * `close()` or `await using`.
 *
 * @example
 * ```ts ignore
 * import { Network } from "@mosaik/network";
 * const local = { listen: "127.0.0.1:0", mdns: false, dht: false };
 * await using a = await Network.create("my-app", local);
 * await using b = await Network.create("my-app", { ...local, bootstrap: [a.local.address] });
 * await b.discovery.when.peers({ minimum: 1 });
 * ```
 */
export class Network implements AsyncDisposable {
  /** The network this node belongs to. */
  readonly networkId: NetworkId;
  /** The QUIC endpoint. */
  readonly endpoint: Endpoint;
  /** Peer discovery and the catalog. */
  readonly discovery: Discovery;
  /** Typed pub/sub streams (`@mosaik/streams`). */
  readonly streams: Streams;
  /** Raft consensus groups with replicated state machines (`@mosaik/groups`). */
  readonly groups: Groups;
  #closed = false;
  #diagnostics = new Set<DiagnosticsServer>();
  #relaying: Relaying;

  private constructor(endpoint: Endpoint, discovery: Discovery, relaying: Relaying) {
    this.#relaying = relaying;
    this.networkId = endpoint.networkId;
    this.endpoint = endpoint;
    this.discovery = discovery;
    this.streams = new Streams(endpoint, discovery);
    this.groups = new Groups(endpoint, discovery);
  }

  /** This node's id and current addresses. */
  get local(): LocalPeer {
    const addresses = this.discovery.local.entry.addresses;
    return Object.freeze({
      id: this.endpoint.peerId,
      address: `${this.endpoint.peerId}@${addresses[0] ?? this.endpoint.hostPort}`,
      addresses,
    });
  }

  /**
   * Starts a node of `network` (a name, hashed, or a {@linkcode NetworkId}):
   * binds the endpoint and starts discovery.
   *
   * @throws {ConfigError} for an unknown option name, a value of the wrong
   * form, or a runtime without `--unstable-net`, before anything binds.
   */
  static async create(network: string | NetworkId, options: NetworkOptions = {}): Promise<Network> {
    checkNetworkOptions(network, options);
    const secretKey = typeof options.secretKey === "string"
      ? SecretKey.from(options.secretKey)
      : options.secretKey;
    const bind = (listen: string) =>
      Endpoint.create({
        networkId: networkId(network),
        secretKey,
        ...parseHostPort(listen),
        maxFrameSize: options.maxFrameSize,
        limits: options.limits,
      });
    const endpoint = options.listen !== undefined
      ? await bind(options.listen)
      : await bind("[::]:0").catch((e) => bind("0.0.0.0:0").catch(() => Promise.reject(e)));
    let relaying: Relaying | undefined;
    try {
      const sources: BootstrapSource[] = [...(options.discovery?.sources ?? [])];
      if (options.dht !== false) {
        const bootstrap = typeof options.dht === "object" ? options.dht.bootstrap : undefined;
        sources.push(
          lazySource(
            "dht",
            async () => (await import("@mosaik/discovery/dht")).dhtBootstrap({ bootstrap }),
          ),
        );
      }
      if (options.mdns !== false) {
        sources.push(
          lazySource("mdns", async () => (await import("@mosaik/discovery/mdns")).mdnsBootstrap()),
        );
      }
      relaying = new Relaying(endpoint, options.relay);
      const discovery = await Discovery.create(endpoint, {
        ...options.discovery,
        sources,
        bootstrap: options.bootstrap,
        tags: [...(options.tags ?? []).map((t) => tag(t)), ...relaying.tags],
        extraAddresses: () => relaying!.addresses(),
        region: options.region,
        zone: options.zone,
        location: options.location,
      });
      relaying.start(discovery, options.relays);
      holePunching(endpoint, () => [...discovery.local.entry.addresses]);
      return new Network(endpoint, discovery, relaying);
    } catch (e) {
      await relaying?.close();
      await endpoint.close();
      throw e;
    }
  }

  /** This node's state for diagnostics: peers, streams, groups and counters. */
  report(): NodeReport {
    const connected = new Set(this.endpoint.connectedPeers());
    const counters: Record<string, number> = {
      "mosaik_connections_opened_total": this.endpoint.stats.connectionsOpened,
      "mosaik_discovery_syncs_total": this.discovery.stats.syncs,
      "mosaik_discovery_sync_failures_total": this.discovery.stats.syncFailures,
      "mosaik_discovery_broadcasts_total": this.discovery.stats.broadcasts,
      "mosaik_discovery_gossip_bytes_sent_total": this.discovery.stats.gossipBytesSent,
      "mosaik_discovery_gossip_rate_limited_total": this.discovery.stats.gossipRateLimited,
      "mosaik_discovery_sync_rate_limited_total": this.discovery.stats.syncRateLimited,
      "mosaik_discovery_entries_deferred_total": this.discovery.stats.entriesDeferred,
      "mosaik_discovery_catalog_evicted_total": this.discovery.stats.catalogEvicted,
      "mosaik_discovery_catalog_full_total": this.discovery.stats.catalogFull,
      "mosaik_discovery_bans_total": this.discovery.stats.bans,
      ...this.#relaying.counters(),
    };
    const add = (name: string, label: string, record: Record<string, number>) => {
      for (const [k, v] of Object.entries(record)) counters[`${name}{${label}=${k}}`] = v;
    };
    add("mosaik_connections_refused_total", "code", this.endpoint.stats.refused);
    add("mosaik_transport_limited_total", "limit", this.endpoint.resources().refused);
    add("mosaik_discovery_messages_sent_total", "kind", this.discovery.stats.sent);
    add("mosaik_discovery_messages_received_total", "kind", this.discovery.stats.received);
    add("mosaik_discovery_dropped_total", "reason", this.discovery.stats.dropped);
    const streams = this.streams.snapshot();
    const subscription = (info: ChannelInfo, remote: PeerId) => ({
      peer: remote,
      state: info.state,
      datums: info.stats.datums,
      bytes: info.stats.bytes,
      dropped: info.stats.dropped,
      gaps: info.stats.gaps,
    });
    return {
      id: this.local.id,
      address: this.local.address,
      network: this.networkId,
      peers: this.discovery.catalog.peers().map((p) => {
        const rtt = this.discovery.rtt(p.peerId);
        return {
          id: p.peerId,
          addresses: [...p.addresses],
          tags: [...p.tags],
          streams: [...p.streams],
          consumes: [...p.consumes ?? []],
          groups: [...p.groups],
          rttMs: rtt?.ms,
          rttSource: rtt?.source,
          region: p.placement?.region,
          zone: p.placement?.zone,
          connected: connected.has(p.peerId),
        };
      }),
      streams: [
        ...streams.producers.map((x) => ({
          role: "producer" as const,
          streamId: x.streamId,
          name: x.name,
          subscriptions: x.consumers.map((c) => subscription(c, c.consumerId)),
        })),
        ...streams.consumers.map((x) => ({
          role: "consumer" as const,
          streamId: x.streamId,
          name: x.name,
          subscriptions: x.producers.map((c) => subscription(c, c.producerId)),
        })),
      ],
      groups: this.groups.snapshot().map((g) => ({
        id: g.id,
        leader: g.leader,
        role: g.metrics.role,
        term: g.metrics.term,
        commitIndex: g.metrics.commitIndex,
        appliedIndex: g.metrics.appliedIndex,
        voters: g.members.voters,
        learners: g.members.learners,
        elections: g.metrics.elections,
        conflicts: g.metrics.conflicts,
      })),
      counters,
      sources: this.discovery.sources(),
      resources: this.#resources(),
      relay: this.#relaying.report(),
    };
  }

  /**
   * Starts the diagnostics HTTP server for this node (Prometheus `/metrics`,
   * JSON under `/api/*`, a live data-flow page at `/`). Closed with the node.
   *
   * @example
   * ```ts ignore
   * await using diag = network.diagnostics({ port: 9464 });
   * console.log(diag.url);
   * ```
   */
  diagnostics(options?: DiagnosticsOptions): DiagnosticsServer {
    const server = serveDiagnostics(() => this.report(), options);
    this.#diagnostics.add(server);
    return server;
  }

  #resources(): NonNullable<NodeReport["resources"]> {
    const usage = this.endpoint.resources();
    const limits = this.endpoint.limits;
    return {
      connections: { inUse: usage.connections, limit: limits.maxConnections },
      pendingHandshakes: { inUse: usage.pendingHandshakes, limit: limits.maxPendingHandshakes },
      pendingHeaders: { inUse: usage.pendingHeaders, limit: limits.maxPendingHeaders },
      incomingChannels: { inUse: usage.incomingChannels, limit: limits.maxIncomingChannels },
      partialFrameBytes: { inUse: usage.partialFrameBytes, limit: limits.maxPartialFrameBytes },
    };
  }

  /** Leaves gracefully: announces the departure, then closes the endpoint. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#diagnostics].map((d) => d.close()));
    await this.groups.close(); // stopping is not leaving: leaders hand over first
    await this.streams.close();
    await this.#relaying.close();
    await this.discovery.close();
    await this.endpoint.close();
  }

  /** Same as {@linkcode Network.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
