// A discovery node in its own process, for tests/discovery_process_test.ts.
// Usage: deno run --allow-net=127.0.0.1 tests/discovery_node.ts <networkId> <bootstrap> <announceMs>
// Prints its address, runs until stdin closes, then leaves gracefully.
import { Endpoint, networkId } from "@mosaik/transport";
import { Discovery } from "@mosaik/discovery";

const [net, bootstrap, announce] = Deno.args;
const endpoint = await Endpoint.create({ networkId: networkId(net) });
const discovery = await Discovery.create(endpoint, {
  bootstrap: [bootstrap],
  announceInterval: Number(announce),
});
await discovery.when.peers({ minimum: 1 });
console.log(endpoint.address);
for await (const _ of Deno.stdin.readable) { /* run until stdin closes */ }
await discovery.close();
await endpoint.close();
