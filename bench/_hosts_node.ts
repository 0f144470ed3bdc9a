/**
 * Child process of `bench/hosts.ts` on loopback, so the relay, the node and
 * the peer each have their own thread as on separate hosts. Argument: JSON
 * `{ role: "relay" }` (serves a relay without a byte-rate limit: the bench
 * measures forwarding, not the limit) or `{ role: "node", relay }` (reserves
 * at `relay` and serves `/echo/1`, `/sink/1` and `/source/1`). Prints
 * `{ready, id, hostPort, relayed?}` once ready; closes when stdin ends.
 *
 * @module
 */
import { Endpoint, networkId, Relay, RelayReservation } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";

/** Bytes `/sink/1` takes before it answers, and `/source/1` sends. */
export const VOLUME = 16 << 20;
/** Bytes per frame `/source/1` sends. */
export const CHUNK = 64 << 10;
/** The network id the bench runs on. */
export const NET = networkId("bench-hosts");

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]) as { role: "relay" | "node"; relay?: string };
  const endpoint = await Endpoint.create({ networkId: NET });
  let reservation: RelayReservation | undefined;
  if (config.role === "relay") Relay.serve(endpoint, { bytesPerSecond: 1 << 30 });
  else {
    serve(endpoint);
    reservation = new RelayReservation(endpoint, config.relay!);
    await eventually(() => reservation!.state === "reserved", { timeout: 10_000 });
  }
  console.log(JSON.stringify({
    ready: true,
    id: endpoint.peerId,
    hostPort: endpoint.hostPort,
    address: endpoint.address,
    relayed: reservation?.address,
  }));
  for await (const _ of Deno.stdin.readable) { /* until stdin ends */ }
  await reservation?.close();
  await endpoint.close();
  Deno.exit(0);
}

function serve(endpoint: Endpoint): void {
  endpoint.handle("/echo/1", async (ch) => {
    for await (const m of ch) await ch.send(m);
  });
  endpoint.handle("/sink/1", async (ch) => {
    let got = 0;
    for (;;) {
      const bytes = await ch.recvBytes();
      if (bytes === undefined) break;
      got += bytes.length;
      if (got >= VOLUME) await ch.send("done");
    }
  });
  endpoint.handle("/source/1", async (ch) => {
    await ch.recv();
    const chunk = new Uint8Array(CHUNK);
    for (let sent = 0; sent < VOLUME; sent += CHUNK) await ch.sendBytes(chunk);
    await ch.recv();
  });
}
