// `mosaik dht`: look into a Mainline DHT swarm, and into the rendezvous
// records mosaik networks publish there. One JSON document per command.
import { fromHex, networkId, parsePeerId, SecretKey, toHex } from "@mosaik/transport";
import { type BValue, DhtNode, PUBLIC_ROUTERS, Rendezvous, signItem } from "@mosaik/discovery/dht";
import { type Command, parse, say, UsageError } from "./_cli_args.ts";

const usage = `usage: mosaik dht [options] <command> ...

  lookup <target hex>                    closest nodes to a 20-byte target
  peers <infohash hex>                   peers announced for an infohash
  announce <infohash hex> [port]         announce this node for an infohash
  get <target hex>                       an immutable item
  get --key <public key hex> [--salt s]  a mutable item
  put <text>                             an immutable item; prints its target
  put --secret <seed> [--seq n] [--salt s] <text>   a mutable item
  network <name|NetworkId>               the rendezvous records of a network
  resolve <name|NetworkId> <PeerId>      one peer's record in a network

  -b, --bootstrap <host:port,...>  routers to join through [the public routers]
      --hostname <ip>              address to bind [0.0.0.0]
  -h, --help                       this text`;

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
  const bytes = parsed(fromHex, argument(hex, "target"), "target");
  if (bytes.length !== 20) throw new UsageError("a target is 20 bytes, 40 hex characters");
  return bytes;
}

function argument(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

/** `parse(text)`, with a failure reported as a usage error about `what`. */
function parsed<T>(parse: (text: string) => T, text: string, what: string): T {
  try {
    return parse(text);
  } catch {
    throw new UsageError(`invalid ${what} '${text}'`);
  }
}

type Values = { key?: string; salt?: string; secret?: string; seq?: string };

/** Checks a command's arguments and returns the work to do once the node is up. */
function plan(command: string | undefined, rest: string[], values: Values) {
  const salt = values.salt === undefined ? undefined : te.encode(values.salt);
  switch (command) {
    case "lookup": {
      const t = target(rest[0]);
      return async (node: DhtNode) => {
        const r = await node.findNode(t);
        const closest = r.closest.map((c) => ({ id: toHex(c.id), address: `${c.host}:${c.port}` }));
        return { queried: r.queried, closest };
      };
    }
    case "peers": {
      const t = target(rest[0]);
      return async (node: DhtNode) => {
        const r = await node.getPeers(t);
        return { queried: r.queried, peers: r.peers };
      };
    }
    case "announce": {
      const t = target(rest[0]);
      const port = rest[1] === undefined ? undefined : Number(rest[1]);
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new UsageError(`invalid port '${rest[1]}'`);
      }
      return async (node: DhtNode) => {
        const r = await node.announce(t, port);
        return { stored: r.stored, queried: r.queried };
      };
    }
    case "get": {
      if (values.key) {
        const key = parsed(fromHex, values.key, "public key");
        return async (node: DhtNode) => {
          const item = await node.getMutable(key, { salt });
          return item ? { seq: item.seq, v: show(item.v), queried: item.queried } : null;
        };
      }
      const t = target(rest[0]);
      return async (node: DhtNode) => {
        const v = await node.getImmutable(t);
        return v === undefined ? null : { v: show(v) };
      };
    }
    case "put": {
      const value = te.encode(argument(rest.join(" "), "text to put"));
      const seq = Number(values.seq ?? Date.now());
      const item = values.secret
        ? signItem(SecretKey.from(values.secret), value, seq, salt)
        : undefined;
      return async (node: DhtNode) => {
        const r = item ? await node.putMutable(item) : await node.putImmutable(value);
        return {
          target: toHex(r.target),
          stored: r.stored,
          errors: r.errors.map((e) => e.message),
        };
      };
    }
    case "network": {
      const net = networkId(argument(rest[0], "network name"));
      return async (node: DhtNode) => ({
        records: await new Rendezvous(node, net, SecretKey.generate()).discover(),
      });
    }
    case "resolve": {
      const net = networkId(argument(rest[0], "network name"));
      const peer = parsed(parsePeerId, argument(rest[1], "PeerId"), "PeerId");
      return async (node: DhtNode) =>
        (await new Rendezvous(node, net, SecretKey.generate()).resolve(peer)) ?? null;
    }
    case undefined:
      throw new UsageError("missing command");
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    bootstrap: { type: "string", short: "b" },
    hostname: { type: "string" },
    key: { type: "string" },
    salt: { type: "string" },
    secret: { type: "string" },
    seq: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return say(usage), 0;
  const [command, ...rest] = positionals;
  const work = plan(command, rest, values);
  const bootstrap = values.bootstrap ? values.bootstrap.split(",") : PUBLIC_ROUTERS;
  const node = await DhtNode.create({ bootstrap, hostname: values.hostname });
  try {
    await node.bootstrap();
    say(JSON.stringify(await work(node), null, 2));
    return 0;
  } finally {
    await node.close();
  }
}

/** The `dht` subcommand. */
export const dht: Command = { summary: "query the Mainline DHT and mosaik rendezvous", usage, run };
