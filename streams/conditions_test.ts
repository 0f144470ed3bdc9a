import assert from "node:assert/strict";
import { type PeerId, tag } from "@mosaik/transport";
import { conditionMet, Watch } from "./conditions.ts";
import { peerInfo } from "./peer.ts";
import { Backoff } from "./backoff.ts";

const peer = (id: string, tags: string[] = []) =>
  peerInfo({ peerId: id as PeerId, addresses: [], tags: tags.map((t) => tag(t)), streams: [] }, 1);

Deno.test("conditions: count connected channels with tags and filters", () => {
  const channels = [
    { state: "connected" as const, peer: peer("a", ["x", "y"]) },
    { state: "connected" as const, peer: peer("b", ["x"]) },
    { state: "connecting" as const, peer: peer("c", ["x", "y"]) },
  ];
  assert.ok(conditionMet({}, channels));
  assert.ok(conditionMet({ minimum: 2 }, channels));
  assert.ok(!conditionMet({ minimum: 3 }, channels), "connecting channels do not count");
  assert.ok(conditionMet({ minimum: 2, tags: ["x"] }, channels));
  assert.ok(!conditionMet({ minimum: 2, tags: ["x", "y"] }, channels));
  assert.ok(conditionMet({ minimum: 2, tags: ["x", "y"], unmet: true }, channels));
  assert.ok(!conditionMet({ where: (p) => p.peerId === "z" }, channels));
  assert.ok(conditionMet({ minimum: 0 }, []));
});

Deno.test("watch: resolves on notify, at once when already true, rejects on close and abort", async () => {
  const w = new Watch();
  let x = 0;
  await w.until(() => true);
  const p = w.until(() => x === 1);
  x = 1;
  w.notify();
  await p;
  const ac = new AbortController();
  const aborted = w.until(() => false, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  const pending = w.until(() => false);
  w.close(new Error("closed"));
  await assert.rejects(pending, /closed/);
  await assert.rejects(w.until(() => false), /closed/);
});

Deno.test("backoff: grows, caps, jitters within bounds, resets", () => {
  const b = new Backoff({ initial: 100, multiplier: 2, max: 350, jitter: 0 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 350, 350]);
  b.reset();
  assert.equal(b.next(), 100);
  const j = new Backoff({ initial: 1000, jitter: 0.5 });
  for (let i = 0; i < 100; i++) {
    const d = j.next();
    j.reset();
    assert.ok(d >= 500 && d <= 1500);
  }
});
