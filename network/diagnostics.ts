/**
 * Diagnostics on request: an HTTP server (Hono) with Prometheus `/metrics`,
 * JSON introspection under `/api/*` and a page at `/` that draws the live
 * data-flow graph. Start it with `network.diagnostics()`.
 *
 * Needs `--allow-net` for the address it binds (loopback by default).
 *
 * @module
 */

/** A peer as the diagnostics show it. */
export interface PeerReport {
  /** The peer's id. */
  id: string;
  /** `host:port` addresses from its signed entry. */
  addresses: string[];
  /** Tag ids. */
  tags: string[];
  /** Stream ids it produces. */
  streams: string[];
  /** Stream ids it consumes. */
  consumes?: string[];
  /** Group ids it belongs to. */
  groups: string[];
  /** Round-trip time in ms: measured (smoothed) or predicted from network coordinates. */
  rttMs?: number;
  /** Whether `rttMs` was measured or predicted. */
  rttSource?: "measured" | "predicted";
  /** Region the peer declared. */
  region?: string;
  /** Zone the peer declared. */
  zone?: string;
  /** Whether a QUIC connection to it is open. */
  connected: boolean;
}

/** One subscription of a local producer or consumer. */
export interface SubscriptionReport {
  /** The remote peer. */
  peer: string;
  /** Subscription state. */
  state: string;
  /** Datums carried. */
  datums: number;
  /** Payload bytes carried. */
  bytes: number;
  /** Datums dropped (producer side) or gaps seen (consumer side). */
  dropped: number;
  /** Sequence gaps seen (consumer side). */
  gaps: number;
}

/** A local producer or consumer of a stream. */
export interface StreamReport {
  /** `"producer"` or `"consumer"`. */
  role: "producer" | "consumer";
  /** The stream id. */
  streamId: string;
  /** The stream's name, when known. */
  name?: string;
  /** Its subscriptions. */
  subscriptions: SubscriptionReport[];
}

/** A local group member. */
export interface GroupReport {
  /** The group id. */
  id: string;
  /** The current leader, if known. */
  leader?: string;
  /** This member's role. */
  role: string;
  /** Current term. */
  term: number;
  /** Highest committed index. */
  commitIndex: number;
  /** Highest applied index. */
  appliedIndex: number;
  /** Voting members. */
  voters: string[];
  /** Non-voting members. */
  learners: string[];
  /** Elections started by this member. */
  elections: number;
  /** Conflicts with other incarnations of the group holding writes (resolved by `group.resolve`). */
  conflicts: number;
}

/** Everything the diagnostics server reports, taken fresh per request. */
export interface NodeReport {
  /** This node's id. */
  id: string;
  /** This node's address, `<peerId>@host:port`. */
  address: string;
  /** The network id. */
  network: string;
  /** Other peers in the catalog. */
  peers: PeerReport[];
  /** Local producers and consumers. */
  streams: StreamReport[];
  /** Local group members. */
  groups: GroupReport[];
  /** Counters as `name{labels}` → value, rendered as Prometheus counters. */
  counters: Record<string, number>;
  /** Discovery's bootstrap sources (mDNS, DHT, ...) and how they are doing. */
  sources?: { name: string; state: string; reason?: string }[];
  /**
   * Relaying now: reservations this node holds at relays, and, when it
   * serves as a relay, the reservations and circuits it carries.
   */
  relay?: { held: number; serving?: { reservations: number; circuits: number } };
  /**
   * What the transport holds now and its limit, per resource
   * (`connections`, `pendingHandshakes`, `pendingHeaders`, `incomingChannels`,
   * `partialFrameBytes`).
   */
  resources?: Record<string, { inUse: number; limit: number }>;
}

/** Options of {@linkcode serveDiagnostics}. */
export interface DiagnosticsOptions {
  /** Address to bind. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port to bind. Default `0` (any free port). */
  port?: number;
  /**
   * Extra names the `Host` header may carry (e.g. a DNS name behind a proxy),
   * with or without a port. Requests for any other host are refused with 421,
   * so a web page cannot read the node through DNS rebinding. The bound
   * address is always allowed, with loopback names when bound to loopback,
   * and this machine's interface addresses when bound to all interfaces.
   */
  allowedHosts?: readonly string[];
}

/** A running diagnostics server. */
export interface DiagnosticsServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function line(name: string, labels: Record<string, string>, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${value}`;
}

/** HELP texts of the counter families a node reports. */
const COUNTER_HELP: Record<string, string> = {
  mosaik_connections_opened_total: "Authenticated QUIC connections opened, both directions.",
  mosaik_connections_refused_total: "Connections refused, by close code.",
  mosaik_transport_limited_total: "Requests refused for a full resource, by limit.",
  mosaik_discovery_syncs_total: "Catalog syncs completed with a peer.",
  mosaik_discovery_sync_failures_total: "Catalog syncs that failed or timed out.",
  mosaik_discovery_broadcasts_total: "Own entry broadcasts sent through gossip.",
  mosaik_discovery_gossip_bytes_sent_total: "Bytes of gossip messages sent.",
  mosaik_discovery_gossip_rate_limited_total: "Gossip messages dropped over a peer's byte rate.",
  mosaik_discovery_sync_rate_limited_total: "Syncs refused over a peer's byte rate.",
  mosaik_discovery_entries_deferred_total:
    "Entries left unverified over their sender's signature budget (maxVerifyRate).",
  mosaik_discovery_catalog_evicted_total: "Catalog entries evicted to stay within maxPeers.",
  mosaik_discovery_catalog_full_total: "New peers not taken because the catalog was full.",
  mosaik_discovery_bans_total: "Peers banned for misbehaving.",
  mosaik_discovery_messages_sent_total: "Discovery messages sent, by kind.",
  mosaik_discovery_messages_received_total: "Discovery messages received, by kind.",
  mosaik_discovery_dropped_total: "Discovery input dropped, by reason.",
  mosaik_relay_packets_total: "Packets this relay forwarded.",
  mosaik_relay_bytes_total: "Bytes this relay forwarded.",
  mosaik_relay_dropped_total: "Packets this relay dropped over a circuit's byte rate.",
  mosaik_relay_refused_total: "Relay requests refused, by close code.",
};

/**
 * Renders a snapshot in the Prometheus text exposition format (0.0.4).
 * Every series carries the short network id as the `network` label.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "@mosaik/network";
 * const text = renderMetrics({
 *   id: "p", address: "p@127.0.0.1:1", network: "ab".repeat(32),
 *   peers: [], streams: [], groups: [], counters: {},
 * });
 * console.assert(text.includes("mosaik_peers"));
 * ```
 */
export function renderMetrics(s: NodeReport): string {
  const net = { network: s.network.slice(0, 10) };
  const out: string[] = [];
  const gauge = (name: string, help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of rows) out.push(line(name, { ...net, ...labels }, value));
  };
  gauge("mosaik_peers", "Peers in the catalog.", [[{}, s.peers.length]]);
  gauge(
    "mosaik_discovery_source_up",
    "1 when a bootstrap source works; its state says why not (unreachable, disabled).",
    (s.sources ?? []).map((
      x,
    ) => [{ source: x.name, state: x.state }, x.state === "running" ? 1 : 0]),
  );
  gauge("mosaik_connected_peers", "Peers with an open QUIC connection.", [[
    {},
    s.peers.filter((p) => p.connected).length,
  ]]);
  gauge(
    "mosaik_peer_rtt_seconds",
    "Round-trip time per peer, measured (smoothed) or predicted from network coordinates.",
    s.peers.filter((p) => p.rttMs !== undefined).map((p) => [
      { peer: p.id, source: p.rttSource ?? "measured", region: p.region ?? "" },
      p.rttMs! / 1000,
    ]),
  );
  gauge(
    "mosaik_stream_subscriptions",
    "Open subscriptions per local producer or consumer.",
    s.streams.map((
      x,
    ) => [{ stream: x.streamId.slice(0, 10), role: x.role }, x.subscriptions.length]),
  );
  gauge(
    "mosaik_stream_datums",
    "Datums carried per local producer or consumer.",
    s.streams.map((x) => [
      { stream: x.streamId.slice(0, 10), role: x.role },
      x.subscriptions.reduce((n, sub) => n + sub.datums, 0),
    ]),
  );
  if (s.relay) {
    gauge("mosaik_relay_reservations_held", "Reservations this node holds at relays.", [[
      {},
      s.relay.held,
    ]]);
  }
  if (s.relay?.serving) {
    gauge("mosaik_relay_reservations", "Reservations this relay carries now.", [[
      {},
      s.relay.serving.reservations,
    ]]);
    gauge("mosaik_relay_circuits", "Circuits open through this relay now.", [[
      {},
      s.relay.serving.circuits,
    ]]);
  }
  const groups = (name: string, help: string, f: (g: GroupReport) => number) =>
    gauge(name, help, s.groups.map((g) => [{ group: g.id.slice(0, 10) }, f(g)]));
  const resources = Object.entries(s.resources ?? {});
  gauge(
    "mosaik_transport_in_use",
    "What remotes make the transport hold now, per resource.",
    resources.map(([resource, r]) => [{ resource }, r.inUse]),
  );
  gauge(
    "mosaik_transport_limit",
    "The limit of each transport resource (more is refused: mosaik_transport_limited_total).",
    resources.map(([resource, r]) => [{ resource }, r.limit]),
  );
  groups("mosaik_group_term", "Current Raft term.", (g) => g.term);
  groups("mosaik_group_commit_index", "Highest committed log index.", (g) => g.commitIndex);
  groups(
    "mosaik_group_apply_lag",
    "Committed but not yet applied entries.",
    (g) => g.commitIndex - g.appliedIndex,
  );
  groups("mosaik_group_is_leader", "1 when this member leads.", (g) => g.role === "leader" ? 1 : 0);
  groups("mosaik_group_voters", "Voting members.", (g) => g.voters.length);
  groups(
    "mosaik_group_incarnation_conflicts",
    "Other incarnations holding writes this member met (they stay apart until group.resolve()).",
    (g) => g.conflicts,
  );
  const families = new Map<string, [Record<string, string>, number][]>();
  for (const [key, value] of Object.entries(s.counters)) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").split(",").filter(Boolean)) {
      const [k, v] = pair.split("=");
      labels[k] = v;
    }
    if (!METRIC_NAME.test(m[1])) continue;
    if (!families.has(m[1])) families.set(m[1], []);
    families.get(m[1])!.push([labels, value]);
  }
  for (const [name, rows] of families) {
    out.push(`# HELP ${name} ${COUNTER_HELP[name] ?? "Counter."}`, `# TYPE ${name} counter`);
    for (const [labels, value] of rows) out.push(line(name, { ...net, ...labels }, value));
  }
  return out.join("\n") + "\n";
}

/** A node of the swarm graph. */
export interface GraphNode {
  /** Its id. */
  id: string;
  /** Whether it is the node serving the page. */
  self: boolean;
  /** How many streams it produces. */
  streams: number;
  /** Groups it belongs to. */
  groups: string[];
  /** Its addresses (from its entry; this node's own address for itself). */
  addresses: string[];
  /** RTT from this node in ms, measured or predicted. */
  rttMs?: number;
  /** Region it declared. */
  region?: string;
}

/** A producer → consumer edge of the swarm graph. */
export interface GraphEdge {
  /** The producer. */
  from: string;
  /** The consumer. */
  to: string;
  /** The stream's name (this node's own streams) or short id. */
  stream: string;
  /**
   * `"live"`: a subscription of this node, with its datum count;
   * `"advertised"`: both ends' entries say they produce and consume the stream.
   */
  kind: "live" | "advertised";
  /** Datums carried (live edges). */
  datums?: number;
}

/**
 * The swarm as this node knows it: every peer of the catalog, this node's
 * live subscriptions, and an advertised edge from every producer to every
 * consumer of a stream that the entries name (so a page shows the flows
 * between other nodes too).
 */
export function graphOf(s: NodeReport): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [
    {
      id: s.id,
      self: true,
      streams: s.streams.filter((x) => x.role === "producer").length,
      groups: s.groups.map((g) => g.id),
      addresses: [s.address],
    },
    ...s.peers.map((p) => ({
      id: p.id,
      self: false,
      streams: p.streams.length,
      groups: p.groups,
      addresses: p.addresses,
      rttMs: p.rttMs,
      region: p.region,
    })),
  ];
  const names = new Map(s.streams.map((x) => [x.streamId, x.name ?? x.streamId.slice(0, 8)]));
  const edges: GraphEdge[] = s.streams.flatMap((x) =>
    x.subscriptions.map((sub) => ({
      from: x.role === "producer" ? s.id : sub.peer,
      to: x.role === "producer" ? sub.peer : s.id,
      stream: names.get(x.streamId)!,
      kind: "live" as const,
      datums: sub.datums,
    }))
  );
  const producers = new Map<string, string[]>();
  const consumers = new Map<string, string[]>();
  const note = (map: Map<string, string[]>, stream: string, peer: string) =>
    map.set(stream, [...map.get(stream) ?? [], peer]);
  for (const x of s.streams) note(x.role === "producer" ? producers : consumers, x.streamId, s.id);
  for (const p of s.peers) {
    for (const id of p.streams) note(producers, id, p.id);
    for (const id of p.consumes ?? []) note(consumers, id, p.id);
  }
  const live = new Set(edges.map((e) => `${e.from}>${e.to}>${e.stream}`));
  for (const [stream, from] of producers) {
    const name = names.get(stream) ?? stream.slice(0, 8);
    for (const f of from) {
      for (const t of consumers.get(stream) ?? []) {
        if (f === t || live.has(`${f}>${t}>${name}`)) continue;
        edges.push({ from: f, to: t, stream: name, kind: "advertised" });
      }
    }
  }
  return { nodes, edges };
}

/**
 * Serves the diagnostics of the node whose state `snapshot` returns.
 *
 * @example
 * ```ts ignore
 * await using diag = network.diagnostics({ port: 9464 });
 * console.log(`${diag.url}/metrics`);
 * ```
 */
export function serveDiagnostics(
  snapshot: () => NodeReport,
  options: DiagnosticsOptions = {},
): DiagnosticsServer {
  // hono and the page load on the first request: a node that never serves
  // diagnostics does not carry them.
  let app: Promise<(request: Request) => Response | Promise<Response>> | undefined;
  const handler = async (request: Request): Promise<Response> => {
    app ??= import("./_diagnostics_app.ts").then((m) =>
      m.diagnosticsApp(snapshot, () => server.addr, options.allowedHosts)
    );
    return await (await app)(request);
  };
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, handler);
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return { url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}
