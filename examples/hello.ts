/**
 * Two nodes on loopback say hello over an authenticated QUIC channel.
 *
 * Run: `deno run --allow-net=127.0.0.1 examples/hello.ts`
 *
 * @module
 */
import { Endpoint, networkId } from "@mosaik/transport";

const net = networkId("hello-mosaik");
await using alice = await Endpoint.create({ networkId: net });
await using bob = await Endpoint.create({ networkId: net });
console.log(`alice is ${alice.address}`);
console.log(`bob   is ${bob.address}`);

alice.handle("/hello/1", async (channel) => {
  const greeting = await channel.recv<string>();
  console.log(`alice got "${greeting}" from ${channel.peerId.slice(0, 8)}… (authenticated)`);
  await channel.send(`hello ${channel.peerId.slice(0, 8)}…, I am alice`);
  await channel.close();
});

const started = performance.now();
const channel = await bob.open(alice.peerId, [alice.hostPort], "/hello/1");
await channel.send("hello alice, I am bob");
console.log(`bob got "${await channel.recv<string>()}"`);
console.log(`round trip including QUIC handshake: ${(performance.now() - started).toFixed(1)} ms`);
await channel.close();
