/**
 * The public API in one page, runnable on loopback.
 *
 * Run: `deno run --allow-net=127.0.0.1,[::1],localhost --allow-env examples/tour.ts`
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import { SharedMap } from "@mosaik/collections";

// A node. Local-only options, as every test and demo on this machine uses.
const a = await Network.create("my-app", { listen: "127.0.0.1:0", mdns: false, dht: false });
const b = await Network.create("my-app", {
  listen: "127.0.0.1:0",
  mdns: false,
  dht: false,
  bootstrap: [a.local.address], // "<peerId>@127.0.0.1:port"
});
await b.discovery.when.peers({ minimum: 1 }); // catalog holds >= 1 other peer
console.log("b sees a at", b.discovery.catalog.get(a.local.id)?.addresses);

// Streams: typed, intent-addressed.
const Prices = stream<{ sym: string; px: number }>("prices");
const producer = a.streams.produce(Prices, { maxConsumers: 8 });
const consumer = b.streams.consume(Prices);
await producer.when.subscribed({ minimum: 1 });
await producer.send({ sym: "ETH", px: 3000 });
console.log("b received", await consumer.recv());
await consumer.close();

// Groups: Raft with a replicated state machine.
const counter = {
  name: "counter/v1", // goes into the GroupId
  value: 0,
  apply(cmd: { add: number }) {
    this.value += cmd.add;
    return this.value;
  },
  query(_q: "value") {
    return this.value;
  },
  snapshot() {
    return { value: this.value };
  },
  restore(s: { value: number }) {
    this.value = s.value;
  },
};
// bootstrapExpect: how many members a new group starts with (here: this node alone).
const group = a.groups.join({
  key: "counter",
  stateMachine: counter,
  config: { bootstrapExpect: 1 },
});
console.log("leader", await group.when.leaderElected());
const result = await group.execute({ add: 5 }); // { index, result } once committed and applied
console.log(
  "executed",
  result,
  "strong read",
  await group.query("value", { consistency: "strong" }),
);

// Collections: one writer or many, any number of readers.
const balances = SharedMap.writer<string, number>(a, "balances");
await balances.when.online();
const version = await balances.insert("alice", 100);
const replica = SharedMap.reader<string, number>(b, "balances");
await replica.when.reaches(version);
console.log("replica reads alice =", replica.get("alice")); // 100

await b.close();
await a.close();
