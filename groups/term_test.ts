// A key holder outside the configuration cannot poison the group's term: one
// heartbeat with an enormous term used to make every member adopt it and
// leave the group without a leader.
import assert from "node:assert/strict";
import { Sim } from "./_sim.ts";
import { MAX_WIRE_NUMBER, parseMessage } from "./_wire.ts";
import { MAX_OUTSIDE_TERM_STEP } from "./_voters.ts";

Deno.test("a non-voter's heartbeat with a huge term is ignored; the group keeps committing", async () => {
  const sim = new Sim({ seed: 11, nodes: 3 });
  assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= 2)));
  const leader = sim.leader()!;
  const term = leader.core.term;
  const cluster = leader.core.config!.cluster;
  for (const r of sim.alive()) {
    r.receive("stranger", { type: "Hb", cluster, term: MAX_WIRE_NUMBER, commit: 0 } as never);
    r.receive(
      "stranger",
      { type: "Vote", cluster, term: MAX_WIRE_NUMBER, lastIndex: 9e9, lastTerm: 9e9 } as never,
    );
  }
  assert.ok(sim.alive().every((r) => r.core.term === term), "no member adopted the term");
  let done = false;
  leader.execute([["put", "k", "v"]]).then(() => done = true);
  assert.ok(await sim.until(() => done));
  assert.equal(sim.leader(), leader);
});

Deno.test("terms beyond 2^48 are refused on the wire", () => {
  const hb = (term: number) => ({ type: "Hb", cluster: "c", term, commit: 0 });
  assert.doesNotThrow(() => parseMessage(hb(MAX_WIRE_NUMBER)));
  assert.throws(() => parseMessage(hb(2 ** 53 - 1)));
  assert.throws(() => parseMessage(hb(MAX_WIRE_NUMBER + 1)));
});

Deno.test("a leaderless member follows a leader outside its configuration only a bounded term step ahead", async () => {
  const sim = new Sim({ seed: 12, nodes: 3 });
  assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= 2)));
  const leader = sim.leader()!;
  const lone = sim.alive().find((r) => r !== leader)!;
  sim.partition([lone.id], sim.alive().filter((r) => r !== lone).map((r) => r.id));
  await sim.run(1000); // far past three election timeouts without a leader
  const cluster = lone.core.config!.cluster;
  const term = lone.core.term;
  const hb = (t: number) => ({ type: "Hb", cluster, term: t, commit: 0 }) as never;
  lone.receive("stranger", hb(MAX_WIRE_NUMBER));
  lone.receive("stranger", hb(term + MAX_OUTSIDE_TERM_STEP + 1));
  assert.equal(lone.core.term, term, "huge steps are ignored");
  lone.receive("stranger", hb(term + 2));
  assert.equal(lone.core.term, term + 2, "a leader it may have missed being added is followed");
});

Deno.test("a leaderless voter votes for a candidate outside its configuration only if that log is ahead", async () => {
  const sim = new Sim({ seed: 13, nodes: 3 });
  assert.ok(await sim.until(() => sim.alive().every((r) => r.applied >= 2)));
  const leader = sim.leader()!;
  const lone = sim.alive().find((r) => r !== leader)!;
  sim.partition([lone.id], sim.alive().filter((r) => r !== lone).map((r) => r.id));
  await sim.run(1000); // far past three election timeouts without a leader
  const answers: { type: string; reject?: boolean }[] = [];
  const send = lone.opts.send;
  lone.opts.send = (to, m) => to === "stranger" ? void answers.push(m as never) : send(to, m);
  const { cluster } = lone.core.config!;
  const term = lone.core.term;
  const lastIndex = lone.core.lastIndex;
  const lastTerm = lone.core.termAt(lastIndex)!;
  const vote = (index: number) =>
    ({ type: "Vote", cluster, term: term + 1, lastIndex: index, lastTerm }) as never;
  lone.receive("stranger", vote(lastIndex));
  assert.equal(lone.core.term, term, "a log not ahead of its own: ignored");
  assert.equal(answers.length, 0);
  lone.receive("stranger", vote(lastIndex + 5));
  assert.equal(lone.core.term, term + 1, "a log ahead may hold the entry that added that voter");
  assert.deepEqual(answers.map((a) => [a.type, a.reject]), [["VoteR", false]]);
});
