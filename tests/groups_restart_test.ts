// A member that restarts with empty storage under the same PeerId, while the
// configuration still lists it, catches up from the leader again.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { MemoryStorage } from "@mosaik/groups";
import { Counter } from "@mosaik/groups/testing";

Deno.test("groups: a member restarted with empty storage catches up and applies the same state", async () => {
  const name = crypto.randomUUID();
  const keys = [0, 1, 2].map(() => crypto.randomUUID());
  const start = (i: number, bootstrap: string[]) =>
    Network.create(name, {
      listen: "127.0.0.1:0",
      mdns: false,
      dht: false,
      secretKey: keys[i],
      bootstrap,
    });
  const a = await start(0, []);
  const b = await start(1, [a.local.address]);
  let c = await start(2, [a.local.address]);
  try {
    await a.discovery.when.peers({ minimum: 2 });
    const join = (n: Network, sm: Counter) =>
      n.groups.join({
        key: "counter",
        stateMachine: sm,
        storage: new MemoryStorage(),
        config: { bootstrapExpect: 3 },
      });
    const sms = [new Counter(), new Counter(), new Counter()];
    const ga = join(a, sms[0]);
    const gb = join(b, sms[1]);
    let gc = join(c, sms[2]);
    await Promise.all([ga, gb, gc].map((g) => within(g.when.online(), 10_000)));
    await eventually(() => ga.members.voters.length === 3);
    let last = 0;
    for (let i = 1; i <= 20; i++) last = (await within(ga.execute({ add: i }), 5000)).index;
    await eventually(() => gc.appliedIndex >= last);
    assert.equal(sms[2].value, 210);

    // c stops; a new process with the same key and a fresh storage takes its place.
    await c.close();
    for (let i = 1; i <= 5; i++) last = (await within(gb.execute({ add: 1 }), 5000)).index;
    c = await start(2, [a.local.address]);
    const fresh = new Counter();
    gc = join(c, fresh);
    const leader = [ga, gb].find((g) => g.isLeader) ?? ga;
    await eventually(() => gc.appliedIndex >= leader.appliedIndex && gc.appliedIndex >= last, {
      timeout: 15_000,
    });
    assert.equal(fresh.value, 215);
    assert.equal(await within(gc.query(null, { consistency: "strong" }), 5000), 215);
    // Its storage is new: it was re-added as a learner and promoted once caught up.
    await eventually(() => gc.isVoter && leader.members.voters.length === 3, { timeout: 15_000 });
    assert.deepEqual(new Set(leader.members.voters), new Set([a.local.id, b.local.id, c.local.id]));
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
