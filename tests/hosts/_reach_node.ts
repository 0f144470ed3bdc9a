/**
 * Child script of the reachability suite: a `Network` node with default
 * options except `dht: false` (so it listens on every interface and finds
 * LAN peers by mDNS). Argument: JSON `{ network, name, bootstrap? }`.
 * Produces the stream `reach-hello` (its name every 200 ms) and consumes it.
 * Prints `{ready, id, listen, addresses}`, then `{addresses}` whenever they
 * change, `{peer, peerAddresses}` for every entry it learns, and `{datum}`
 * for the first datum of every other producer.
 * Closes when stdin ends.
 */
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";

const config = JSON.parse(Deno.args[0]) as { network: string; name: string; bootstrap?: string[] };
const net = await Network.create(config.network, { dht: false, bootstrap: config.bootstrap });
const out = (line: object) => console.log(JSON.stringify(line));
out({
  ready: true,
  id: net.local.id,
  listen: net.endpoint.hostPort,
  addresses: net.local.addresses,
});

let addresses = net.local.addresses.join(" ");
const watch = setInterval(() => {
  const now = net.local.addresses.join(" ");
  if (now !== addresses) out({ addresses: net.local.addresses });
  addresses = now;
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

for await (const _ of Deno.stdin.readable) { /* runs until stdin closes */ }
clearInterval(watch);
clearInterval(sending);
await net.close();
await reading.catch(() => {});
Deno.exit(0);
