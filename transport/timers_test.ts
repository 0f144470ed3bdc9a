import assert from "node:assert/strict";
import { scheduleAt } from "./timers.ts";

Deno.test("scheduleAt waits for deadlines beyond 2^31 ms instead of firing at once", async () => {
  let far = false;
  const cancel = scheduleAt(Date.now() + 30 * 86_400_000, () => far = true);
  // A plain setTimeout with this delay would already have fired before this near deadline.
  await new Promise<void>((resolve) => scheduleAt(Date.now() + 5, resolve));
  assert.equal(far, false);
  cancel();
});

Deno.test("scheduleAt runs past deadlines asynchronously; cancel stops it", async () => {
  let ran = false;
  const fired = new Promise<void>((resolve) => scheduleAt(0, resolve));
  const cancel = scheduleAt(Date.now() + 1, () => ran = true);
  cancel();
  assert.equal(ran, false);
  await fired;
  await new Promise<void>((resolve) => scheduleAt(Date.now() + 5, resolve));
  assert.equal(ran, false);
});
