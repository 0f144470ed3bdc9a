/**
 * Child script of the preferences suites: one `Network` node on a host of
 * the delay switch. Argument: JSON `{ listen, region?, probe, announce }`.
 * Prints `{ready, id, address}`, then answers JSON-line requests (see
 * process.ts): `peers` (RTT and prediction per peer), `ping`, `produce`,
 * `consume`, `producers`, `join` (a counter group preferring a region) and
 * `leader` (its current leader).
 */
import { distance } from "@mosaik/discovery";
import { Network } from "@mosaik/network";
import type { PeerId } from "@mosaik/transport";
import { type Consumer, type Producer, stream } from "@mosaik/streams";
import type { Group } from "@mosaik/groups";
import { Counter, type CounterCommand } from "@mosaik/groups/testing";

const config = JSON.parse(Deno.args[0]);
const net = await Network.create("prefs-suite", {
  listen: config.listen,
  mdns: false,
  dht: false,
  region: config.region,
  discovery: { rttProbeInterval: config.probe, announceInterval: config.announce },
});
const Ticks = stream<string>("ticks");
let producer: Producer<string> | undefined;
let consumer: Consumer<string> | undefined;
let group: Group<CounterCommand, number, unknown, number> | undefined;
const out = (line: object) => console.log(JSON.stringify(line));
out({ ready: true, id: net.local.id, address: net.local.address });

type Request = { id: number; op: string } & Record<string, unknown>;
const ops: Record<string, (r: Request) => Promise<object> | object> = {
  bootstrap: (r) => {
    for (const a of r.addresses as string[]) net.discovery.addPeer(a);
    return {};
  },
  peers: () => ({
    coordinate: net.discovery.coordinate,
    peers: net.discovery.catalog.peers().map((e) => ({
      id: e.peerId,
      rtt: net.discovery.rtt(e.peerId),
      predicted: e.coordinate ? distance(net.discovery.coordinate, e.coordinate) : undefined,
    })),
  }),
  stats: () => ({ stats: net.discovery.stats }),
  ping: async (r) => ({ ms: await net.discovery.ping(r.peer as PeerId) }),
  produce: () => {
    producer ??= net.streams.produce(Ticks);
    setInterval(() => producer!.send(config.listen).catch(() => {}), 200);
    return {};
  },
  consume: (r) => {
    consumer ??= net.streams.consume(Ticks, {
      prefer: r.prefer as "latency" | "region",
      limit: r.limit as number,
    });
    return {};
  },
  join: (r) => {
    group ??= net.groups.join({
      key: "counter",
      stateMachine: new Counter(),
      config: { preferLeaderIn: r.preferLeaderIn as string, bootstrapExpect: r.expect as number },
    });
    return {};
  },
  leader: () => ({ leader: group?.leader ?? null }),
  producers: () => ({
    producers:
      consumer?.producers().filter((p) => p.state === "connected").map((p) => p.producerId) ?? [],
  }),
};

let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const req = JSON.parse(buf.slice(0, nl)) as Request;
    buf = buf.slice(nl + 1);
    Promise.resolve().then(() => ops[req.op](req)).then(
      (reply) => out({ ...reply, id: req.id }),
      (e) => out({ id: req.id, error: String(e) }),
    );
  }
}
await net.close();
Deno.exit(0);
