// Leadership preference by region: the group ends led in the preferred region,
// and still elects a leader elsewhere once that member is gone.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { Counter } from "@mosaik/groups/testing";

Deno.test("groups: preferLeaderIn moves leadership to the preferred region, and elects anywhere without it", async () => {
  const name = crypto.randomUUID();
  const local = { listen: "127.0.0.1:0", mdns: false, dht: false };
  await using a = await Network.create(name, { ...local, region: "r0" });
  await using b = await Network.create(name, {
    ...local,
    region: "r1",
    bootstrap: [a.local.address],
  });
  const c = await Network.create(name, { ...local, region: "r2", bootstrap: [a.local.address] });
  try {
    await Promise.all([a, b, c].map((n) => n.discovery.when.peers({ minimum: 2 })));
    const config = { preferLeaderIn: "r2", bootstrapExpect: 2 };
    const join = (n: Network) =>
      n.groups.join({ key: "counter", stateMachine: new Counter(), config });
    // a and b elect one of them first, so the leader has to hand over to c.
    const [ga, gb] = [join(a), join(b)];
    const first = await within(ga.when.leaderElected(), 10_000);
    assert.notEqual(first, c.local.id);
    const gc = join(c);
    await eventually(() => [ga, gb, gc].every((g) => g.leader === c.local.id), {
      timeout: 15_000,
      message: "leadership moved to the member in r2",
    });
    assert.equal((await within(ga.execute({ add: 1 }), 5_000)).result, 1);
    await c.close();
    await eventually(() => ga.leader !== undefined && ga.leader !== c.local.id, {
      timeout: 15_000,
      message: "a leader elected without r2",
    });
    assert.ok([a.local.id, b.local.id].includes(ga.leader!));
    assert.equal((await within(gb.execute({ add: 1 }), 10_000)).result, 2);
  } finally {
    await c.close();
  }
});
