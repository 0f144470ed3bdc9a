/**
 * `mosaik dht`: inspect a Mainline DHT swarm from the command line.
 *
 * ```sh
 * deno run --allow-net discovery/dht/cli.ts [--bootstrap host:port,...] [--hostname ip] <command>
 *   lookup <target hex>                    closest nodes to a 20-byte target
 *   peers <infohash hex>                   peers announced for an infohash
 *   announce <infohash hex> [port]         announce ourselves
 *   get <target hex>                       an immutable item
 *   get --key <public key hex> [--salt s]  a mutable item
 *   put <text>                             an immutable item; prints its target
 *   put --secret <seed> --seq <n> [--salt s] <text>   a mutable item
 *   network <name or NetworkId>            the rendezvous records of a network
 *   resolve <name or NetworkId> <PeerId>   a peer's record in a network, by its key
 * ```
 *
 * Output is one JSON document per command. `--bootstrap` defaults to the
 * public routers.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fromHex, networkId, parsePeerId, SecretKey, toHex } from "@mosaik/transport";
import type { BValue } from "./bencode.ts";
import { signItem } from "./bep44.ts";
import { DhtNode } from "./node.ts";
import { PUBLIC_ROUTERS } from "./types.ts";
import { Rendezvous } from "./rendezvous.ts";

const te = new TextEncoder();
const td = new TextDecoder();

function show(v: BValue): unknown {
  if (v instanceof Uint8Array) {
    const text = td.decode(v);
    return /^[\x20-\x7e]*$/.test(text) ? text : { hex: toHex(v) };
  }
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(show);
  if (typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
  }
  return v;
}

function target(hex: string | undefined): Uint8Array {
  const bytes = fromHex(hex ?? "");
  if (bytes.length !== 20) throw new Error("expected a 20-byte hex target");
  return bytes;
}

const USAGE = "usage: mosaik dht [--bootstrap host:port,...] [--hostname ip] " +
  "lookup|peers|announce|get|put|network|resolve ...";

const OPTIONS = {
  bootstrap: { type: "string", short: "b" },
  hostname: { type: "string" },
  key: { type: "string" },
  salt: { type: "string" },
  secret: { type: "string" },
  seq: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Runs the CLI with `args`; returns the exit code. Prints results as JSON to
 * stdout and errors to stderr.
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    console.error(`mosaik dht: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  const bootstrap = values.bootstrap ? values.bootstrap.split(",") : PUBLIC_ROUTERS;
  const node = await DhtNode.create({ bootstrap, hostname: values.hostname });
  try {
    await node.bootstrap();
    const salt = values.salt === undefined ? undefined : te.encode(values.salt);
    let out: unknown;
    switch (command) {
      case "lookup": {
        const r = await node.findNode(target(rest[0]));
        out = {
          queried: r.queried,
          closest: r.closest.map((c) => ({ id: toHex(c.id), address: `${c.host}:${c.port}` })),
        };
        break;
      }
      case "peers": {
        const r = await node.getPeers(target(rest[0]));
        out = { queried: r.queried, peers: r.peers };
        break;
      }
      case "announce": {
        const r = await node.announce(target(rest[0]), rest[1] ? Number(rest[1]) : undefined);
        out = { stored: r.stored, queried: r.queried };
        break;
      }
      case "get": {
        if (values.key) {
          const item = await node.getMutable(fromHex(values.key), { salt });
          out = item ? { seq: item.seq, v: show(item.v), queried: item.queried } : null;
        } else {
          const v = await node.getImmutable(target(rest[0]));
          out = v === undefined ? null : { v: show(v) };
        }
        break;
      }
      case "put": {
        const value = te.encode(rest.join(" "));
        const r = values.secret
          ? await node.putMutable(
            signItem(SecretKey.from(values.secret), value, Number(values.seq ?? Date.now()), salt),
          )
          : await node.putImmutable(value);
        out = { target: toHex(r.target), stored: r.stored, errors: r.errors.map((e) => e.message) };
        break;
      }
      case "network": {
        const rv = new Rendezvous(node, networkId(rest[0] ?? ""), SecretKey.generate());
        out = { records: await rv.discover() };
        break;
      }
      case "resolve": {
        const rv = new Rendezvous(node, networkId(rest[0] ?? ""), SecretKey.generate());
        out = (await rv.resolve(parsePeerId(rest[1] ?? ""))) ?? null;
        break;
      }
      default:
        console.error(`mosaik dht: unknown command ${command}\n${USAGE}`);
        return 2;
    }
    console.log(JSON.stringify(out, null, 2));
    return 0;
  } catch (e) {
    console.error(`mosaik dht: ${e instanceof Error ? e.message : e}`);
    return 1;
  } finally {
    await node.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
