// Client requests: every ReadIndex round has its own context, so the late
// answer of an earlier round never completes a later one.
import assert from "node:assert/strict";
import { Requests } from "./_requests.ts";

Deno.test("a late ReadIndex answer of an earlier round does not complete a later round", async () => {
  let now = 0;
  const asked: string[] = [];
  const requests = new Requests({
    clientId: "c",
    retryTicks: 5,
    timeoutTicks: 1000,
    now: () => now,
    hadLeader: () => true,
    readIndex: (ctx) => asked.push(ctx),
  });
  let answer: unknown;
  requests.read("q").then((v) => answer = v);
  assert.equal(asked.length, 1);
  // The first round goes unanswered; the retry asks again with a new context.
  now += 5;
  requests.tick();
  assert.equal(asked.length, 2);
  assert.notEqual(asked[1], asked[0]);
  // The first round's answer arrives late, with a point the member applied.
  requests.onReadStates([{ ctx: asked[0], index: 3 }]);
  requests.answerReads(3, () => "stale");
  await Promise.resolve();
  assert.equal(answer, undefined, "the earlier round's answer was ignored");
  // The second round's point is 7: the read waits until the member applied it.
  requests.onReadStates([{ ctx: asked[1], index: 7 }]);
  requests.answerReads(6, () => "early");
  await Promise.resolve();
  assert.equal(answer, undefined);
  requests.answerReads(7, () => "fresh");
  await Promise.resolve();
  assert.equal(answer, "fresh");
});

Deno.test("a refused ReadIndex round is retried at the next tick under a new context", () => {
  let now = 0;
  const asked: string[] = [];
  const requests = new Requests({
    clientId: "c",
    retryTicks: 5,
    timeoutTicks: 1000,
    now: () => now,
    hadLeader: () => true,
    readIndex: (ctx) => asked.push(ctx),
  });
  requests.read("q").catch(() => {});
  requests.onReadStates([{ ctx: asked[0], index: -1 }]);
  now += 1;
  requests.tick();
  assert.equal(asked.length, 2);
  assert.notEqual(asked[1], asked[0]);
  requests.close(new Error("closed"));
});
