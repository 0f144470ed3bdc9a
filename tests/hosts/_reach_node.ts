/**
 * Child script of the reachability suite: a `Network` node with default
 * options except `dht: false` (so it listens on every interface and finds
 * LAN peers by mDNS). Argument: JSON `{ network, name, bootstrap?, relay?,
 * relays?, listen?, secretKey?, members? }`.
 * Produces the stream `reach-hello` (its name every 200 ms) and consumes it.
 * With `relay`/`relays` it serves as a relay or reserves with them, and it
 * answers `{op: "dial"}` requests (below).
 * Prints `{ready, id, listen, addresses}`, then `{addresses}` whenever they
 * change, `{paths}` (direct or relayed, per connected peer) whenever they
 * change, `{peer, peerAddresses}` for every entry it learns, and `{datum}`
 * for the first datum of every other producer; with `members`, `{leader}`,
 * `{executed}`, `{mapOnline}`, `{mapInserted}` as the group and map steps
 * complete (while the map is not online, `{groups, mapMembers}` every 10 s),
 * then `{counter, map}` until both hold every member's write.
 * Closes when stdin ends.
 */
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import { Endpoint, type PeerId } from "@mosaik/transport";
import { Counter } from "@mosaik/groups/testing";
import { SharedMap } from "@mosaik/collections";

const config = JSON.parse(Deno.args[0]) as {
  network: string;
  name: string;
  bootstrap?: string[];
  relay?: boolean;
  relays?: string[];
  listen?: string;
  secretKey?: string;
  members?: number;
};
const net = await Network.create(config.network, {
  dht: false,
  listen: config.listen,
  secretKey: config.secretKey,
  bootstrap: config.bootstrap,
  relay: config.relay,
  relays: config.relays,
});
const ECHO = "/reach/echo/1";
net.endpoint.handle(ECHO, async (ch) => {
  for await (const m of ch) await ch.send(m);
});
const out = (line: object) => console.log(JSON.stringify(line));
out({
  ready: true,
  id: net.local.id,
  listen: net.endpoint.hostPort,
  addresses: net.local.addresses,
});

let addresses = net.local.addresses.join(" ");
let paths = "{}";
const watch = setInterval(() => {
  const now = net.local.addresses.join(" ");
  if (now !== addresses) out({ addresses: net.local.addresses });
  addresses = now;
  const byPeer = Object.fromEntries(
    net.endpoint.connectedPeers().map((p) => [p, net.endpoint.connection(p)?.path]),
  );
  if (JSON.stringify(byPeer) !== paths) out({ paths: byPeer });
  paths = JSON.stringify(byPeer);
}, 200);

net.discovery.catalog.subscribe((ev) => {
  if (ev.type === "discovered" || ev.type === "updated") {
    out({ peer: ev.entry.peerId, peerAddresses: ev.entry.addresses });
  }
});

const Hello = stream<string>("reach-hello");
const producer = net.streams.produce(Hello);
const sending = setInterval(() => {
  try {
    producer.trySend(config.name);
  } catch {
    // no subscriber yet, or a full queue: the next one goes out
  }
}, 200);
const consumer = net.streams.consume(Hello);
const reading = (async () => {
  const seen = new Set<string>([config.name]);
  for await (const datum of consumer) {
    if (seen.has(datum)) continue;
    seen.add(datum);
    out({ datum });
  }
})();

/**
 * `{op: "dial", peer, addresses, mib?}`: a fresh endpoint of this host (no
 * connection yet, so no path but the given addresses) opens an echo
 * channel to `peer`; replies with the milliseconds, the Mbit/s of echoing
 * `mib` MiB (default 1) in 1 MiB messages, and the path's address.
 */
async function dial(peer: PeerId, addresses: string[], mib = 1) {
  await using fresh = await Endpoint.create({ networkId: net.networkId, hostname: "0.0.0.0" });
  const t0 = performance.now();
  const ch = await fresh.open(peer, addresses, ECHO);
  await ch.send("hello");
  if (await ch.recv() !== "hello") throw new Error("bad echo");
  const ms = performance.now() - t0;
  const payload = new Uint8Array(1 << 20);
  const t1 = performance.now();
  const sending = (async () => {
    for (let i = 0; i < mib; i++) await ch.send(payload);
  })();
  for (let i = 0; i < mib; i++) await ch.recv();
  await sending;
  const mbps = 2 * 8 * mib / ((performance.now() - t1) / 1000);
  await ch.close();
  return { ms, mbps, via: fresh.connection(peer)?.remoteAddress };
}

// With `members`: a counter group and a SharedMap of that many members;
// each adds 1 and writes its name, then prints what it reads.
if (config.members) {
  const expect = config.members;
  const group = net.groups.join({
    key: "reach-counter",
    stateMachine: new Counter(),
    config: { bootstrapExpect: expect },
  });
  const map = SharedMap.writer<string, string>(net, "reach-map", { writers: expect });
  (async () => {
    out({ leader: await group.when.leaderElected() });
    await group.execute({ add: 1 });
    out({ executed: true });
    // While the map waits, every group's state (a failed wait then shows why).
    const waiting = setInterval(() => {
      out({ groups: net.groups.snapshot(), mapMembers: map.members });
    }, 10_000);
    await map.when.online().finally(() => clearInterval(waiting));
    out({ mapOnline: true });
    await map.insert(config.name, net.local.id);
    out({ mapInserted: true });
    for (;;) {
      const value = await group.query(null, { consistency: "strong" });
      const names = [...map.keys()].sort();
      out({ counter: value, map: names });
      if (value === expect && names.length === expect) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  })().catch((e) => out({ groupError: String(e) }));
}

let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const req = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    dial(req.peer, req.addresses, req.mib).then(
      (reply) => out({ ...reply, id: req.id }),
      (e) => out({ id: req.id, error: String(e) }),
    );
  }
}
clearInterval(watch);
clearInterval(sending);
await net.close();
await reading.catch(() => {});
Deno.exit(0);
