/**
 * Child process of tests/mdns_netns_test.ts: one node in its own network
 * namespace. Runs an mDNS bootstrap source with a bootstrap context that
 * records offered peers; prints `{"met": [...]}` once it has met `expect`
 * others, and closes (sending a goodbye) when stdin closes.
 *
 * Usage: mdns_node.ts <network name> <iface ip> <quic port> <expect>
 */
import { networkId, SecretKey } from "@mosaik/transport";
import { mdnsBootstrap } from "@mosaik/discovery/mdns";

const [name, ip, port, expect] = Deno.args;
const key = SecretKey.generate();
const met = new Set<string>();
const abort = new AbortController();
const source = mdnsBootstrap({ interface: ip, queryInterval: 200 });
let reported = false;
await source.start({
  networkId: networkId(name),
  secretKey: key,
  localAddresses: () => [`${ip}:${port}`],
  peerCount: () => met.size,
  addPeer(address) {
    met.add(address);
    if (!reported && met.size >= Number(expect)) {
      reported = true;
      console.log(JSON.stringify({ self: `${key.peerId}@${ip}:${port}`, met: [...met] }));
    }
  },
  signal: abort.signal,
});
console.log(JSON.stringify({ started: `${key.peerId}@${ip}:${port}` }));
for await (const _ of Deno.stdin.readable) { /* wait for stdin to close */ }
await source.close();
console.log(JSON.stringify({ closed: true, stats: source.stats }));
