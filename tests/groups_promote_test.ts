// Learners become voters at runtime, without leaving and rejoining: through
// `group.promote()` or by joining the group again as a voter on that node.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { discoverAll, freshNetwork, startNode } from "./_harness.ts";
import { joinCounter } from "./groups_harness.ts";

Deno.test("groups: learners are promoted to voters at runtime and then count for the quorum", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2, 3].map(() => startNode(net)));
  try {
    await discoverAll(n);
    const key = crypto.randomUUID();
    const [a, b] = [0, 1].map((i) => joinCounter(n[i], key, { bootstrapExpect: 2 }));
    await within(eventually(() => a.members.voters.length === 2 && a.online && b.online), 10_000);
    const learner = { learner: true, preference: "never" as const };
    const c = joinCounter(n[2], key, learner);
    const d = joinCounter(n[3], key, learner);
    await within(Promise.all([c.when.online(), d.when.online()]), 10_000);
    assert.equal((await within(a.execute({ add: 5 }), 5000)).result, 5);
    assert.deepEqual(
      new Set(a.members.learners),
      new Set([n[2].endpoint.peerId, n[3].endpoint.peerId]),
    );
    const members = [a, b, c, d];

    // c: explicit promotion; d: a second join on that node as a voter.
    await within(c.promote({ preference: "normal" }), 10_000);
    const d2 = joinCounter(n[3], key);
    await within(
      eventually(() => members.every((g) => g.members.voters.length === 4)),
      10_000,
    );
    assert.deepEqual(a.members.learners, []);
    assert.equal(d2.appliedIndex, d.appliedIndex, "the second handle shares the member");

    // With four voters, two members are needed besides the leader: the
    // promoted ones carry the quorum when an original voter stops.
    const leader = members.find((g) => g.isLeader)!;
    const victim = [0, 1].find((i) => members[i] !== leader)!;
    await n[victim].close();
    const writer = members.find((g, i) => i !== victim && g !== leader)!;
    assert.equal((await within(writer.execute({ add: 1 }), 10_000)).result, 6);
    await within(
      eventually(() =>
        members.every((g, i) => i === victim || g.appliedIndex >= leader.appliedIndex)
      ),
      10_000,
    );
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});
