/**
 * Hello, mosaik: a node of the network "hello-mosaik" that greets every other
 * node and prints the greetings it gets. Start it twice on one LAN (two
 * terminals or two machines): with only the network's name, the nodes find
 * each other by mDNS or the Mainline DHT.
 *
 * Run: `deno task hello`
 *
 * `--local --bootstrap <peerId>@host:port` keeps it on loopback (tests);
 * `--count n` stops after n greetings.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";

const { values } = parseArgs({
  options: {
    local: { type: "boolean", default: false },
    bootstrap: { type: "string", multiple: true, default: [] },
    count: { type: "string", default: "Infinity" },
  },
});
const local = values.local ? { listen: "127.0.0.1:0", mdns: false, dht: false } : {};

// All a node needs: a network name, and here one stream it produces and consumes.
const network = await Network.create("hello-mosaik", { ...local, bootstrap: values.bootstrap });
const Greetings = stream<string>("hello/greetings");
const producer = network.streams.produce(Greetings);
const greetings = network.streams.consume(Greetings);
console.log(`hello: I am ${network.local.address}`);
const greeting = `hello from ${network.local.id.slice(0, 8)}`;

let sending = true;
const sender = (async () => {
  while (sending) {
    await producer.send(greeting);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
})();
let received = 0;
for await (const text of greetings) {
  console.log(`hello: got "${text}"`);
  if (++received >= Number(values.count)) break;
}
sending = false;
await network.close();
await sender.catch(() => {}); // the last send ends with the closed producer
