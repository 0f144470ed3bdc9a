// Groups through `network.groups`: join, elect, execute, query, close.
import assert from "node:assert/strict";
import { within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { Counter } from "@mosaik/groups/testing";

Deno.test("network.groups: join, elect, execute and query through a Network", async () => {
  const name = crypto.randomUUID();
  await using a = await Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: false });
  await using b = await Network.create(name, {
    listen: "127.0.0.1:0",
    mdns: false,
    dht: false,
    bootstrap: [a.local.address],
  });
  await b.discovery.when.peers({ minimum: 1 });
  const config = { bootstrapExpect: 2 };
  const ga = a.groups.join({ key: "counter", stateMachine: new Counter(), config });
  const gb = b.groups.join({ key: "counter", stateMachine: new Counter(), config });
  const leader = await within(ga.when.leaderElected(), 5000);
  assert.equal(await within(gb.when.leaderElected(), 5000), leader);
  const { index, result } = await within(gb.execute({ add: 5 }), 5000);
  assert.equal(result, 5);
  assert.ok(index > 0);
  assert.equal(await ga.query(null, { consistency: "strong" }), 5);
  assert.equal(await gb.query(null, { consistency: "strong" }), 5);
});
