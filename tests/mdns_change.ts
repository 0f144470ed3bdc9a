/**
 * Child process of tests/mdns_netns_test.ts: an mDNS source with a
 * bootstrap context whose QUIC address changes when a line arrives on stdin
 * (port 1000, then 2000). Closes when stdin closes.
 *
 * Usage: mdns_change.ts <network name> <iface ip>
 */
import { networkId, SecretKey } from "@mosaik/transport";
import { mdnsBootstrap } from "@mosaik/discovery/mdns";

const [name, ip] = Deno.args;
let port = 1000;
const abort = new AbortController();
const source = mdnsBootstrap({ queryInterval: 200 });
await source.start({
  networkId: networkId(name),
  secretKey: SecretKey.generate(),
  localAddresses: () => [`${ip}:${port}`],
  peerCount: () => 0,
  addPeer: () => {},
  signal: abort.signal,
});
console.log(JSON.stringify({ started: true }));
for await (const _ of Deno.stdin.readable) port = 2000;
await source.close();
