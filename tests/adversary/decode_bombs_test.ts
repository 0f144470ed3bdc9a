// Decode bombs (a million nesting levels, 8 MiB of empty maps) sent as the
// first message of every protocol a stranger reaches, against a victim
// process while its honest workload runs.
import { decodeBombs, PROTOCOLS } from "./_attacks.ts";
import { Scene } from "./_scene.ts";

for (const [name, protocol] of Object.entries(PROTOCOLS)) {
  Deno.test(`adversary: decode bombs on ${name}`, async () => {
    await using scene = await Scene.start();
    await scene.underAttack(`decode bombs on ${name}`, (t) => decodeBombs(t, protocol));
  });
}
