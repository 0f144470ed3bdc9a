// Channel floods against a victim process while its honest workload runs.
import {
  frame,
  hugeHeaders,
  partialFrames,
  protocolHeader,
  PROTOCOLS,
  silentChannels,
  trickle,
  unidirectional,
} from "./_attacks.ts";
import { Scene } from "./_scene.ts";

Deno.test("adversary: 2000 groups channels that never send their hello", async () => {
  await using scene = await Scene.start();
  await scene.underAttack(
    "2000 silent groups channels",
    (t) => silentChannels(t, protocolHeader(PROTOCOLS.groups)),
  );
});

Deno.test("adversary: 2000 channels that send one byte of their header", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("2000 one-byte headers", (t) => silentChannels(t, new Uint8Array([0])));
});

Deno.test("adversary: channel headers that claim 8 MiB", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("4 headers of 8 MiB", (t) => hugeHeaders(t, 4));
});

Deno.test("adversary: close frames as channel headers", async () => {
  await using scene = await Scene.start();
  const closeHeader = frame(new Uint8Array([0x92, 0xcc, 200, 0xa0]), 4 + 0x8000_0000);
  await scene.underAttack("2000 close frames as headers", (t) => silentChannels(t, closeHeader));
});

Deno.test("adversary: frames trickled a byte per write", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("64 channels trickling 60 KiB frames", (t) => trickle(t));
});

Deno.test("adversary: 200 channels each send half a megabyte of an 8 MiB frame", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("200 partial 8 MiB frames", (t) => partialFrames(t));
});

Deno.test("adversary: unidirectional streams nobody reads", async () => {
  await using scene = await Scene.start();
  await scene.underAttack(
    "4 connections × 100 unidirectional streams of 1 MiB",
    (t) => unidirectional(t),
  );
});
