// `mosaik inspect <url>`: a running node's catalog, streams and groups, read from its diagnostics server, as tables.
import { type Command, parse, say, UsageError } from "./_cli_args.ts";
import { table } from "./_table.ts";
import type { NodeReport } from "./diagnostics.ts";

const usage = `usage: mosaik inspect <diagnostics URL> [--json]

Reads a node's diagnostics server (started with \`network.diagnostics()\` or
\`mosaik beacon --diagnostics host:port\`) and prints its peers, streams
and groups.

      --json     the raw report instead of tables
  -h, --help     this text`;

const short = (id: string | undefined) => id ? id.slice(0, 10) : "-";

async function fetchReport(base: string): Promise<NodeReport> {
  let url: URL;
  try {
    url = new URL("/api/report", base);
  } catch {
    throw new UsageError(`'${base}' is not a URL (expected e.g. http://127.0.0.1:9464)`);
  }
  const response = await fetch(url);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url} answered ${response.status} ${response.statusText}`);
  }
  return await response.json();
}

/** The report as text tables. */
export function renderReport(r: NodeReport): string {
  const out = [
    `node     ${r.id}`,
    `address  ${r.address}`,
    `network  ${r.network}`,
    "",
    `PEERS (${r.peers.length})`,
    table(
      ["peer", "addresses", "rtt ms", "connected", "streams", "groups"],
      r.peers.map((p) => [
        short(p.id),
        p.addresses.join(" "),
        p.rttMs === undefined ? "-" : Math.round(p.rttMs * 10) / 10,
        p.connected ? "yes" : "no",
        p.streams.length,
        p.groups.length,
      ]),
    ),
    "",
    `STREAMS (${r.streams.length})`,
    table(
      ["stream", "role", "peers", "datums", "bytes", "dropped"],
      r.streams.map((s) => [
        s.name ?? short(s.streamId),
        s.role,
        s.subscriptions.map((x) => short(x.peer)).join(" ") || "-",
        s.subscriptions.reduce((n, x) => n + x.datums, 0),
        s.subscriptions.reduce((n, x) => n + x.bytes, 0),
        s.subscriptions.reduce((n, x) => n + x.dropped, 0),
      ]),
    ),
    "",
    `GROUPS (${r.groups.length})`,
    table(
      ["group", "role", "leader", "term", "commit", "applied", "voters", "learners"],
      r.groups.map((g) => [
        short(g.id),
        g.role,
        short(g.leader),
        g.term,
        g.commitIndex,
        g.appliedIndex,
        g.voters.length,
        g.learners.length,
      ]),
    ),
  ];
  return out.join("\n");
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return say(usage), 0;
  if (positionals.length !== 1) throw new UsageError("expected one diagnostics URL");
  const report = await fetchReport(positionals[0]);
  say(values.json ? JSON.stringify(report, null, 2) : renderReport(report));
  return 0;
}

/** The `inspect` subcommand. */
export const inspect: Command = {
  summary: "print a running node's peers, streams and groups",
  usage,
  run,
};
