/**
 * Child process of tests/mdns_netns_test.ts: a `multicast-dns` querier
 * (npm) that asks for `_mosaik._udp.local` and prints every mosaik instance
 * it sees as `{"instance": name, "ttl": n, "txt": [...]}`.
 */
import mdns from "npm:multicast-dns@7.2.5";

const m = mdns({ ttl: 1, loopback: true, interface: Deno.args[0], bind: "0.0.0.0" });
m.on(
  "response",
  (packet: { answers: { name: string; type: string; ttl: number; data: unknown }[] }) => {
    for (const a of packet.answers) {
      if (a.type === "TXT" && a.name.endsWith("._mosaik._udp.local")) {
        const txt = (a.data as Uint8Array[]).map((d) => new TextDecoder().decode(d));
        console.log(JSON.stringify({ instance: a.name, ttl: a.ttl, txt }));
      }
    }
  },
);
const ask = () => m.query({ questions: [{ name: "_mosaik._udp.local", type: "PTR" }] });
ask();
const timer = setInterval(ask, 300);
for await (const _ of Deno.stdin.readable) { /* wait for stdin to close */ }
clearInterval(timer);
m.destroy();
