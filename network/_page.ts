// The diagnostics page: one HTML document with inline CSS and script that
// polls /api/* every second and draws the swarm as this node knows it.

/** The page served at `/`. */
export const PAGE = `<!doctype html>
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
  .node circle { fill: #3b4252; stroke: #4c566a; stroke-width: 2; }
  .node.self circle { fill: #88c0d0; }
  .node.leader circle { stroke: #ebcb8b; stroke-width: 4; }
  .node text { fill: #d8dee9; font-size: 11px; text-anchor: middle; }
  .edge { stroke-width: 2; fill: none; }
  .edge.live { stroke: #a3be8c; marker-end: url(#live); }
  .edge.advertised { stroke: #81a1c1; stroke-dasharray: 6 4; marker-end: url(#advertised); }
  .edge-label { font-size: 10px; text-anchor: middle; paint-order: stroke; stroke: #0f1419; stroke-width: 3px; }
  .edge-label.live { fill: #a3be8c; }
  .edge-label.advertised { fill: #81a1c1; }
  #legend text { fill: #d8dee9; font-size: 11px; }
  h3 { margin: 12px 0 4px; color: #81a1c1; }
  td { padding: 1px 6px; }
</style>
</head>
<body>
<header>mosaik node <b id="self">…</b> · <span id="summary"></span></header>
<main>
<svg id="graph" role="img" aria-label="data-flow graph">
  <defs>
    <marker id="live" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
      <path d="M0,0 L10,5 L0,10 z" fill="#a3be8c"></path></marker>
    <marker id="advertised" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
      <path d="M0,0 L10,5 L0,10 z" fill="#81a1c1"></path></marker>
  </defs>
  <g id="edges"></g><g id="nodes"></g>
  <g id="legend" transform="translate(16, 20)">
    <circle cx="8" cy="0" r="7" fill="#88c0d0"></circle><text x="22" y="4">this node</text>
    <circle cx="8" cy="22" r="7" fill="#3b4252" stroke="#ebcb8b" stroke-width="3"></circle><text x="22" y="26">leads a group of this node</text>
    <line x1="0" y1="44" x2="16" y2="44" class="edge live"></line><text x="22" y="48">subscription of this node · datums</text>
    <line x1="0" y1="66" x2="16" y2="66" class="edge advertised"></line><text x="22" y="70">producer → consumer named in entries</text>
    <text x="0" y="92">▲n: streams produced · hover a node for addresses and RTT</text>
  </g>
</svg>
<aside><h3>Peers</h3><table id="peers"></table><h3>Groups</h3><table id="groups"></table><h3>Streams</h3><table id="streams"></table></aside>
</main>
<script>
const NS = "http://www.w3.org/2000/svg";
const R = 22;
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
// An edge from circle to circle; the two directions of a pair bend apart so
// neither their lines nor their labels overprint.
function drawEdge(e, [x1, y1], [x2, y2], parent) {
  const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len, ny = dx / len, bend = 24;
  const cx = (x1 + x2) / 2 + nx * bend, cy = (y1 + y2) / 2 + ny * bend;
  const trim = (x, y, tx, ty) => {
    const d = Math.hypot(tx - x, ty - y) || 1;
    return [x + (tx - x) * R / d, y + (ty - y) * R / d];
  };
  const [sx, sy] = trim(x1, y1, cx, cy), [ex, ey] = trim(x2, y2, cx, cy);
  el("path", {
    class: "edge " + e.kind, d: "M" + sx + "," + sy + " Q" + cx + "," + cy + " " + ex + "," + ey,
    "data-from": e.from, "data-to": e.to, "data-kind": e.kind,
  }, parent);
  const label = el("text", { class: "edge-label " + e.kind, x: cx, y: cy }, parent);
  label.textContent = e.stream + (e.kind === "live" ? " · " + e.datums : "");
}
async function refresh() {
  const [graph, groups, streams, node, peers] = await Promise.all(
    ["graph", "groups", "streams", "node", "peers"].map((p) => fetch("/api/" + p).then((r) => r.json())));
  document.getElementById("self").textContent = short(node.id);
  const live = graph.edges.filter((e) => e.kind === "live").length;
  document.getElementById("summary").textContent = graph.nodes.length + " nodes · " + live +
    " subscriptions · " + (graph.edges.length - live) + " other flows · " + groups.length + " groups";
  const svg = document.getElementById("graph");
  const w = svg.clientWidth, h = svg.clientHeight, r = Math.min(w, h) / 2 - 70;
  const pos = new Map(graph.nodes.map((n, i) => {
    const a = (2 * Math.PI * i) / graph.nodes.length - Math.PI / 2;
    return [n.id, [w / 2 + 60 + r * Math.cos(a), h / 2 + r * Math.sin(a)]];
  }));
  const leaders = new Set(groups.map((g) => g.leader).filter(Boolean));
  const ge = document.getElementById("edges"), gn = document.getElementById("nodes");
  ge.replaceChildren(); gn.replaceChildren();
  for (const e of graph.edges) {
    if (pos.has(e.from) && pos.has(e.to)) drawEdge(e, pos.get(e.from), pos.get(e.to), ge);
  }
  for (const n of graph.nodes) {
    const [x, y] = pos.get(n.id);
    const g = el("g", { class: "node" + (n.self ? " self" : "") + (leaders.has(n.id) ? " leader" : ""), "data-peer": n.id }, gn);
    el("title", {}, g).textContent = [
      n.id,
      ...n.addresses,
      n.rttMs === undefined ? "" : "RTT " + n.rttMs.toFixed(1) + " ms",
      n.region ? "region " + n.region : "",
      n.groups.length ? n.groups.length + " group(s)" : "",
    ].filter(Boolean).join("\\n");
    el("circle", { cx: x, cy: y, r: R }, g);
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
