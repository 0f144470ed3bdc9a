/**
 * Child process of tests/mdns_netns_test.ts: one `Network` in its own network
 * namespace with mDNS on, the DHT off and no bootstrap peers. Prints
 * `{"started": ...}`, then `{"self": id, "met": [ids]}` once its catalog
 * holds `expect` others, and closes (mDNS goodbye) when stdin closes.
 *
 * Usage: mdns_node.ts <network name> <iface ip> <expect>
 */
import { Network } from "@mosaik/network";

const [name, ip, expect] = Deno.args;
const network = await Network.create(name, { listen: `${ip}:0`, mdns: true, dht: false });
console.log(JSON.stringify({ started: network.local.address }));
await network.discovery.when.peers({ minimum: Number(expect) });
console.log(JSON.stringify({
  self: network.local.id,
  met: network.discovery.catalog.peers().map((e) => e.peerId),
}));
for await (const _ of Deno.stdin.readable) { /* wait for stdin to close */ }
await network.close();
