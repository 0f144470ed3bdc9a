import assert from "node:assert/strict";
import { Turns } from "./turns.ts";

Deno.test("turns: at most size at once, the rest in order, beyond the queue none", async () => {
  const turns = new Turns(2, 2);
  const a = await turns.take()!;
  const b = await turns.take()!;
  const order: string[] = [];
  const c = turns.take()!.then((r) => (order.push("c"), r));
  const d = turns.take()!.then((r) => (order.push("d"), r));
  assert.equal(turns.take(), undefined);
  await Promise.resolve();
  assert.deepEqual(order, []);
  a();
  a(); // a second release is no second turn
  const releaseC = await c;
  assert.deepEqual(order, ["c"]);
  b();
  const releaseD = await d;
  assert.deepEqual(order, ["c", "d"]);
  releaseC();
  releaseD();
  // both turns free again: two at once, a third waits
  const e = await turns.take()!;
  await turns.take()!;
  let third = false;
  const f = turns.take()!.then(() => third = true);
  await Promise.resolve();
  assert.equal(third, false);
  e();
  await f;
  assert.equal(third, true);
});

Deno.test("turns: now() takes a free turn at once, or none; idle once all are back", () => {
  const turns = new Turns(1);
  assert.equal(turns.idle, true);
  const release = turns.now()!;
  assert.equal(turns.idle, false);
  assert.equal(turns.now(), undefined);
  release();
  assert.equal(turns.idle, true);
});
