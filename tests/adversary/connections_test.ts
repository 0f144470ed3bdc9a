// Connection floods against a victim process while its honest workload runs.
import { datagrams, freshKeys, unauthenticated, unprovenStreams } from "./_attacks.ts";
import { Scene } from "./_scene.ts";

Deno.test("adversary: 300 connections that never prove an identity", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("300 unauthenticated connections", (t) => unauthenticated(t, 300));
});

Deno.test("adversary: connections that never finish their proof park bytes on every stream", async () => {
  await using scene = await Scene.start();
  await scene.underAttack(
    "8 unproven connections × 63 streams of 1 MiB",
    (t) => unprovenStreams(t),
  );
});

Deno.test("adversary: 200 fresh keys connect", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("200 fresh keys", (t) => freshKeys(t, 200));
});

Deno.test("adversary: datagrams nobody reads", async () => {
  await using scene = await Scene.start();
  await scene.underAttack("32 connections × 1,500 datagrams of 1 KiB", (t) => datagrams(t));
});
