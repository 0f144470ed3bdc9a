// Child process for streams_process_test.ts: a Network node that produces
// `count` numbered datums once subscribed, then stays until stdin closes.
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";

const [name, bootstrap, count] = Deno.args;
const node = await Network.create(name, {
  listen: "127.0.0.1:0",
  mdns: false,
  dht: false,
  bootstrap: [bootstrap],
});
const producer = node.streams.produce(stream<number>("tests.process.numbers"));
console.log(node.local.id);
await producer.when.subscribed();
for (let i = 0; i < Number(count); i++) await producer.send(i);
console.log("sent");
for await (const _ of Deno.stdin.readable) { /* wait for the parent to hang up */ }
await node.close();
