import assert from "node:assert/strict";
import { type PeerId, tag } from "@mosaik/transport";
import { conditionMet } from "./conditions.ts";
import { peerInfo } from "./peer.ts";

const peer = (id: string, tags: string[] = []) =>
  peerInfo({ peerId: id as PeerId, addresses: [], tags: tags.map((t) => tag(t)), streams: [] }, 1);

Deno.test("conditions: only connected channels with the tags and filter count", () => {
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
