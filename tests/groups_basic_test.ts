import assert from "node:assert/strict";
import { Endpoint, networkId } from "@mosaik/transport";
import { eventually, within } from "@mosaik/transport/testing";
import { Groups } from "@mosaik/groups";
import { Counter } from "@mosaik/groups/testing";

Deno.test("groups over QUIC: three members with static peers form, elect, execute, query", async () => {
  const net = networkId(crypto.randomUUID());
  const eps = await Promise.all([0, 1, 2].map(() => Endpoint.create({ networkId: net })));
  const groups = eps.map((e) => new Groups(e));
  const t0 = performance.now();
  const gs = groups.map((g, i) =>
    g.join({
      key: "counter",
      stateMachine: new Counter(),
      config: { peers: eps.filter((_, j) => j !== i).map((e) => e.address), bootstrapExpect: 3 },
    })
  );
  const leader = await within(gs[0].when.leaderElected(), 5000);
  console.log("first leader after", Math.round(performance.now() - t0), "ms");
  await Promise.all(gs.map((g) => within(g.when.online(), 5000)));
  assert.ok(gs.every((g) => g.leader === leader));
  const r = await gs[1].execute({ add: 5 });
  assert.equal(r.result, 5);
  assert.equal(await gs[2].query("value", { consistency: "strong" }), 5);
  await eventually(() => gs.every((g) => g.appliedIndex >= r.index));
  assert.equal(await gs[0].query("value", { consistency: "weak" }), 5);
  await Promise.all(gs.map((g) => g.close()));
  await Promise.all(eps.map((e) => e.close()));
});
