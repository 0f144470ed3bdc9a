import assert from "node:assert/strict";
import { delay } from "./async.ts";
import { staggered } from "./_dial.ts";

Deno.test("dial: a silent first address costs one stagger, not its timeout", async () => {
  const started: string[] = [];
  let silent: Promise<boolean> | undefined;
  const attempt = (a: string, lost: () => boolean) => {
    started.push(a);
    if (a !== "silent") return Promise.resolve(a);
    silent = delay(1_500).then(lost);
    return silent.then(() => Promise.reject(new Error("late")));
  };
  const t0 = performance.now();
  assert.equal(await staggered(["silent", "good"], attempt, 50), "good");
  assert.ok(performance.now() - t0 < 1_000, "did not wait for the silent one");
  assert.deepEqual(started, ["silent", "good"]);
  assert.equal(await silent, true, "the late attempt is told it lost");
});

Deno.test("dial: later addresses do not start once one connected", async () => {
  const started: string[] = [];
  const winner = await staggered(
    ["a", "b", "c"],
    (a) => {
      started.push(a);
      return Promise.resolve(a);
    },
    50,
  );
  await delay(200);
  assert.equal(winner, "a");
  assert.deepEqual(started, ["a"]);
});

Deno.test("dial: all failing gives every error", async () => {
  const boom = (a: string) => Promise.reject(new Error(a));
  await assert.rejects(staggered(["x"], boom, 10), /x/);
  await assert.rejects(staggered(["x", "y"], boom, 10), (e) => {
    assert.ok(e instanceof AggregateError);
    assert.deepEqual(e.errors.map((x: Error) => x.message), ["x", "y"]);
    return true;
  });
});
