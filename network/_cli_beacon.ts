// `mosaik beacon`: a long-lived bootstrap node with a stable identity that
// other nodes name in their `bootstrap` option.
import { parseHostPort, SecretKey, toHex } from "@mosaik/transport";
import { type Command, parse, say, UsageError } from "./_cli_args.ts";
import { Network } from "./network.ts";

const usage = `usage: mosaik beacon --network <name> [options]

Runs a bootstrap node until SIGINT or SIGTERM and prints the address other
nodes pass as \`bootstrap\`.

  -n, --network <name|id>      network to serve (required)
      --key <file>             key file holding the node's identity; created
                               (mode 600) when missing [mosaik-beacon.key]
      --listen <host:port>     address to bind [0.0.0.0:4433]
      --bootstrap <address>    another beacon, <peerId>@host:port (repeatable)
      --no-mdns                no LAN discovery by mDNS
      --no-dht                 no Mainline DHT rendezvous
      --dht-router <host:port> DHT router instead of the public ones (repeatable)
      --diagnostics <host:port> serve the diagnostics page and /metrics there
      --relay                  relay for peers behind NAT (forwards their
                               end-to-end encrypted QUIC packets)
  -h, --help                   this text`;

/** Reads the key file, or creates it with a new key. */
async function loadKey(path: string): Promise<{ key: SecretKey; created: boolean }> {
  let text: string;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const key = SecretKey.generate();
    await Deno.writeTextFile(path, toHex(key.seed) + "\n", { mode: 0o600, createNew: true });
    return { key, created: true };
  }
  if (!/^[0-9a-f]{64}$/i.test(text)) {
    throw new Error(`${path} is not a key file (expected 64 hex characters)`);
  }
  return { key: SecretKey.from(text.toLowerCase()), created: false };
}

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((signal) => {
      const handler = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
  });
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    network: { type: "string", short: "n" },
    key: { type: "string", default: "mosaik-beacon.key" },
    listen: { type: "string", default: "0.0.0.0:4433" },
    bootstrap: { type: "string", multiple: true, default: [] },
    mdns: { type: "boolean", default: true },
    dht: { type: "boolean", default: true },
    "dht-router": { type: "string", multiple: true },
    diagnostics: { type: "string" },
    relay: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return say(usage), 0;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.network) throw new UsageError("--network is required");
  // Listen before saying "ready": a signal sent right after it must not find
  // the default action (death by SIGTERM) still in place.
  const stopping = stopSignal();
  const { key, created } = await loadKey(values.key);
  const routers = values["dht-router"];
  const network = await Network.create(values.network, {
    secretKey: key,
    listen: values.listen,
    bootstrap: values.bootstrap,
    mdns: values.mdns,
    dht: values.dht && (routers ? { bootstrap: routers } : true),
    relay: values.relay,
  });
  try {
    say(`mosaik beacon`);
    say(`  network  ${network.networkId}`);
    say(`  key      ${values.key}${created ? " (created)" : ""}`);
    for (const address of network.local.addresses) say(`  address  ${key.peerId}@${address}`);
    if (values.diagnostics) {
      const { hostname, port } = parseHostPort(values.diagnostics);
      say(`  page     ${network.diagnostics({ hostname, port }).url}`);
    }
    say(`ready; stop with Ctrl-C (SIGINT) or SIGTERM`);
    const catalog = network.discovery.catalog;
    const off = catalog.subscribe((e) => {
      if (e.type !== "updated") {
        say(`${e.type} ${e.entry.peerId} (${catalog.peers().length} peers)`);
      }
    });
    const signal = await stopping;
    off();
    say(`${signal}: leaving`);
  } finally {
    await network.close();
  }
  say("closed");
  return 0;
}

/** The `beacon` subcommand. */
export const beacon: Command = { summary: "run a long-lived bootstrap node", usage, run };
