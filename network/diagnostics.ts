/**
 * Diagnostics on request: an HTTP server (Hono) with Prometheus `/metrics`,
 * JSON introspection under `/api/*` and a page at `/` that draws the live
 * data-flow graph. Start it with `network.diagnostics()`.
 *
 * Needs `--allow-net` for the address it binds (loopback by default).
 *
 * @module
 */
import { Hono } from "hono";
import { hostCheck } from "./_host_check.ts";

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
  mosaik_discovery_sync_entries_deferred_total:
    "Synced entries left for a later sync over a peer's signature budget.",
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

/** The graph the page draws: peers, and stream edges producer → consumer. */
export function graphOf(s: NodeReport): {
  nodes: { id: string; self: boolean; streams: number; groups: string[] }[];
  edges: { from: string; to: string; stream: string; datums: number }[];
} {
  const nodes = [
    {
      id: s.id,
      self: true,
      streams: s.streams.filter((x) => x.role === "producer").length,
      groups: s.groups.map((g) => g.id),
    },
    ...s.peers.map((p) => ({ id: p.id, self: false, streams: p.streams.length, groups: p.groups })),
  ];
  const edges = s.streams.flatMap((x) =>
    x.subscriptions.map((sub) => ({
      from: x.role === "producer" ? s.id : sub.peer,
      to: x.role === "producer" ? sub.peer : s.id,
      stream: x.name ?? x.streamId.slice(0, 8),
      datums: sub.datums,
    }))
  );
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
  const app = new Hono();
  app.use(hostCheck(() => server.addr, options.allowedHosts));
  app.get("/metrics", (c) =>
    c.text(renderMetrics(snapshot()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  const api: Record<string, [string, (r: NodeReport) => unknown]> = {
    "/api/report": ["everything below in one document", (r) => r],
    "/api/node": [
      "this node: id, address, network",
      ({ id, address, network }) => ({ id, address, network }),
    ],
    "/api/peers": ["the catalog: peers with addresses, RTT, streams, groups", (r) => r.peers],
    "/api/streams": ["local producers and consumers with their subscriptions", (r) => r.streams],
    "/api/groups": ["local group members: role, leader, term, indexes", (r) => r.groups],
    "/api/graph": ["the swarm graph the page draws", graphOf],
  };
  app.get("/api", (c) =>
    c.json({
      endpoints: [
        ...Object.entries(api).map(([path, [about]]) => ({ path, about })),
        { path: "/metrics", about: "Prometheus text exposition" },
        { path: "/", about: "the swarm page" },
      ],
    }));
  for (const [path, [, view]] of Object.entries(api)) {
    app.get(path, (c) => c.json(view(snapshot())));
  }
  app.get("/", (c) => c.html(PAGE));
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, app.fetch);
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return { url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mosaik node</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #0f1419; color: #d8dee9; }
  header { padding: 12px 18px; border-bottom: 1px solid #2e3440; }
  header b { color: #88c0d0; }
  main { display: flex; }
  svg { flex: 1; height: calc(100vh - 50px); }
  aside { width: 340px; padding: 12px; border-left: 1px solid #2e3440; overflow: auto; height: calc(100vh - 74px); }
  .node circle { stroke: #4c566a; stroke-width: 2; }
  .node.self circle { fill: #88c0d0; }
  .node circle { fill: #3b4252; }
  .node.leader circle { stroke: #ebcb8b; stroke-width: 4; }
  .node text { fill: #d8dee9; font-size: 11px; text-anchor: middle; }
  .edge { stroke: #a3be8c; stroke-width: 2; marker-end: url(#arrow); }
  .edge-label { fill: #a3be8c; font-size: 10px; }
  h3 { margin: 12px 0 4px; color: #81a1c1; }
  td { padding: 1px 6px; }
</style>
</head>
<body>
<header>mosaik node <b id="self">…</b> · <span id="summary"></span></header>
<main>
<svg id="graph" role="img" aria-label="data-flow graph">
  <defs><marker id="arrow" viewBox="0 0 10 10" refX="28" refY="5" markerWidth="6" markerHeight="6" orient="auto">
    <path d="M0,0 L10,5 L0,10 z" fill="#a3be8c"></path></marker></defs>
  <g id="edges"></g><g id="nodes"></g>
</svg>
<aside><h3>Peers</h3><table id="peers"></table><h3>Groups</h3><table id="groups"></table><h3>Streams</h3><table id="streams"></table></aside>
</main>
<script>
const NS = "http://www.w3.org/2000/svg";
const short = (id) => id.slice(0, 8);
function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}
function row(table, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
  table.appendChild(tr);
}
async function refresh() {
  const [graph, groups, streams, node, peers] = await Promise.all(
    ["graph", "groups", "streams", "node", "peers"].map((p) => fetch("/api/" + p).then((r) => r.json())));
  document.getElementById("self").textContent = short(node.id);
  document.getElementById("summary").textContent =
    graph.nodes.length + " nodes · " + graph.edges.length + " subscriptions · " + groups.length + " groups";
  const svg = document.getElementById("graph");
  const w = svg.clientWidth, h = svg.clientHeight, r = Math.min(w, h) / 2 - 60;
  const pos = new Map(graph.nodes.map((n, i) => {
    const a = (2 * Math.PI * i) / graph.nodes.length - Math.PI / 2;
    return [n.id, [w / 2 + r * Math.cos(a), h / 2 + r * Math.sin(a)]];
  }));
  const leaders = new Set(groups.map((g) => g.leader).filter(Boolean));
  const ge = document.getElementById("edges"), gn = document.getElementById("nodes");
  ge.replaceChildren(); gn.replaceChildren();
  for (const e of graph.edges) {
    const [x1, y1] = pos.get(e.from) ?? [0, 0], [x2, y2] = pos.get(e.to) ?? [0, 0];
    el("line", { class: "edge", x1, y1, x2, y2 }, ge);
    el("text", { class: "edge-label", x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4 }, ge).textContent = e.stream + " · " + e.datums;
  }
  for (const n of graph.nodes) {
    const [x, y] = pos.get(n.id);
    const g = el("g", { class: "node" + (n.self ? " self" : "") + (leaders.has(n.id) ? " leader" : ""), "data-peer": n.id }, gn);
    el("circle", { cx: x, cy: y, r: 22 }, g);
    el("text", { x, y: y + 40 }, g).textContent = short(n.id) + (n.streams ? " ▲" + n.streams : "");
  }
  const pt = document.getElementById("peers"); pt.replaceChildren();
  for (const p of peers) row(pt, [short(p.id), p.region ?? "-", p.rttMs === undefined ? "-" : p.rttMs.toFixed(1) + " ms " + p.rttSource]);
  const gt = document.getElementById("groups"); gt.replaceChildren();
  for (const g of groups) row(gt, [short(g.id), g.role, "term " + g.term, "commit " + g.commitIndex, g.voters.length + " voters"]);
  const st = document.getElementById("streams"); st.replaceChildren();
  for (const s of streams) row(st, [s.name ?? short(s.streamId), s.role, s.subscriptions.length + " subs"]);
  document.body.dataset.ready = "true";
}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
`;
