/**
 * Child process of tests/mdns_netns_test.ts: an attacker on the LAN that
 * multicasts spoofed announcements naming `count` made-up PeerIds, all at
 * one UDP port of its own, and counts what arrives at that port (the QUIC
 * Initials a victim sends while dialing them). Prints
 * `{"sent": n}` once it announced them all, then `{"packets": n, "bytes": n}`
 * every 500 ms until stdin closes.
 *
 * Usage: mdns_spoof.ts <network name> <iface ip> <count>
 */
import { networkId, SecretKey } from "@mosaik/transport";
import { encodeResponse } from "@mosaik/discovery/mdns";

const [name, ip, count] = Deno.args;
const port = 4999;
const sink = Deno.listenDatagram({ transport: "udp", hostname: ip, port });
const mdns = Deno.listenDatagram({
  transport: "udp",
  hostname: "0.0.0.0",
  port: 5353,
  reuseAddress: true,
});
await mdns.joinMulticastV4("224.0.0.251", ip);
let packets = 0;
let bytes = 0;
const counting = (async () => {
  try {
    for await (const [data] of sink) {
      packets++;
      bytes += data.length;
    }
  } catch { /* closed */ }
})();
const network = networkId(name);
for (let i = 0; i < Number(count); i++) {
  const peerId = SecretKey.generate().peerId;
  const packet = encodeResponse({ network, peerId, addresses: [`${ip}:${port}`] });
  await mdns.send(packet, { transport: "udp", hostname: "224.0.0.251", port: 5353 });
}
console.log(JSON.stringify({ sent: Number(count) }));
const report = setInterval(() => console.log(JSON.stringify({ packets, bytes })), 500);
for await (const _ of Deno.stdin.readable) { /* wait for stdin to close */ }
clearInterval(report);
sink.close();
mdns.close();
await counting;
