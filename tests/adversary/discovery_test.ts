// Discovery attacks against a victim process while its honest workload runs:
// floods of valid made-up peers by sync (and gossip), 40 entries of 250 KiB, syncs of
// forged signatures from fresh keys, and one announcement replayed by a
// non-neighbour under random Plumtree ids. Each stays within the suite's RSS and stall bounds, never
// gets an honest peer banned, and the group keeps committing.
import assert from "node:assert/strict";
import { delay, Endpoint, peerIdToBytes, SecretKey } from "@mosaik/transport";
import { GOSSIP_PROTOCOL, signEntry } from "@mosaik/discovery";
import {
  forgedEntries,
  gossipFrame,
  madeUpEntry,
  madeUpPeers,
  syncEntries,
} from "../discovery_attacker.ts";
import { Scene } from "./_scene.ts";

// Beyond maxPeers (10,000): the last 2,000 make the catalog churn.
Deno.test("adversary: a flood of 12,000 valid made-up peers by sync", async () => {
  await using scene = await Scene.start();
  const flood = madeUpPeers(scene.target.network, 12_000);
  await scene.underAttack("catalog flood", async (target) => {
    await using attacker = await Endpoint.create({ networkId: target.network });
    for (let i = 0; i < flood.length; i += 2_000) {
      await syncEntries(attacker, target, flood.slice(i, i + 2_000));
    }
  });
});

// 60,000 by sync and 12,000 by gossip: beyond the catalog's bound, newcomers
// cost a cheap check each (the peer id they claim), not a signature.
//
// Known gap: its RSS growth straddles the suite's 64 MiB. Ten runs on a quiet
// machine grew the victim 48.8-66.8 MiB (49.6-63.4 in three runs of the code
// that set the suite's bound here after five runs of 45-54 MiB; 64.9 in a CI
// run beside a benchmark), while its live heap grows a few MiB (the catalog, ~350 B an
// entry): filling the catalog verifies 10,000 signatures, and every
// verification leaves a native key handle, like the entries parsed across
// the verification batches' awaits, for a full GC to free; sync frames of
// 6,000 entries add their share. The bound below catches a return of the
// per-entry costs (verifying, evicting, parsing and summarising every
// made-up peer), which grew it past 400 MiB.
const FLOOD_RSS_MIB = 80;

Deno.test("adversary: a flood of 72,000 valid made-up peers by sync and by gossip", async () => {
  await using scene = await Scene.start();
  const bySync = madeUpPeers(scene.target.network, 60_000);
  const byGossip = madeUpPeers(scene.target.network, 12_000);
  let took = 0;
  const figures = await scene.underAttack(
    "catalog flood of 72,000",
    async (target) => {
      const started = performance.now();
      await using syncer = await Endpoint.create({ networkId: target.network });
      await using gossiper = await Endpoint.create({ networkId: target.network });
      gossiper.handle(GOSSIP_PROTOCOL, async (ch) => {
        for await (const _ of ch) { /* drain */ }
      });
      const ch = await gossiper.open(target.peerId, [target.hostPort], GOSSIP_PROTOCOL);
      await ch.send([0, [peerIdToBytes(gossiper.peerId), [gossiper.hostPort]]]); // JOIN
      await Promise.all([
        (async () => {
          for (let i = 0; i < bySync.length; i += 6_000) {
            await syncEntries(syncer, target, bySync.slice(i, i + 6_000)).catch(() => {});
          }
        })(),
        (async () => {
          for (const entry of byGossip) await ch.sendBytes(gossipFrame([0, entry])).catch(() => {});
          await ch.close().catch(() => {});
        })(),
      ]);
      took = (performance.now() - started) / 1000;
    },
    120_000,
    FLOOD_RSS_MIB,
  ); // sending 72,000 entries took 20-55 s on a loaded 2-core machine
  const { peers, catalogEvicted } = figures.discovery;
  assert.ok(peers <= 10_000, `${peers} peers held`);
  // Beyond maxPeers, at most maxCatalogChurn (100) newcomers a second came in.
  assert.ok(catalogEvicted <= 100 * (took + 12), `${catalogEvicted} evicted in ${took} s`);
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
