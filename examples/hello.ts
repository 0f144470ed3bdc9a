/**
 * Hello, mosaik: a node of the network "hello-mosaik" that greets every other
 * node and prints the greetings it gets, until Ctrl-C. Start it twice on one
 * LAN (two terminals or two machines): with only the network's name, the
 * nodes find each other by mDNS or the Mainline DHT.
 *
 * Run: `deno task hello`
 *
 * `--local --bootstrap <peerId>@host:port` keeps it on loopback (tests).
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { commandLine } from "./_args.ts";
import { abortable, delay } from "@mosaik/transport";
import { stream } from "@mosaik/streams";

const { values } = commandLine({
  options: {
    local: { type: "boolean", default: false },
    bootstrap: { type: "string", multiple: true, default: [] },
  },
}, "deno task hello [--local] [--bootstrap <peerId>@host:port]...");
const local = values.local ? { listen: "127.0.0.1:0", mdns: false, dht: false } : {};

// Ctrl-C (or a SIGTERM) ends the node gracefully: its departure is announced.
const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stop.abort());
}

// All a node needs: a network name, and here one stream it produces and consumes.
const network = await Network.create("hello-mosaik", { ...local, bootstrap: values.bootstrap });
const Greetings = stream<string>("hello/greetings");
const producer = network.streams.produce(Greetings);
const greetings = network.streams.consume(Greetings);
console.log(`hello: I am ${network.local.address}`);
const greeting = `hello from ${network.local.id.slice(0, 8)}`;

const sender = (async () => {
  while (!stop.signal.aborted) {
    // A send waits for room at every subscriber: never let it hold up Ctrl-C.
    await abortable(producer.send(greeting), stop.signal).catch(() => {});
    await delay(300, { signal: stop.signal }).catch(() => {});
  }
})();
try {
  while (true) {
    const text = await greetings.recv({ signal: stop.signal });
    if (text === undefined) break;
    console.log(`hello: got "${text}"`);
  }
} catch (error) {
  if (!stop.signal.aborted) throw error;
}
await sender;
await network.close();
console.log("hello: bye");
