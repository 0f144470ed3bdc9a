import assert from "node:assert/strict";
import { scheduleAt, Timers } from "./timers.ts";

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

Deno.test("Timers: a cancelled timer and those pending at close never run; none starts after", async () => {
  const timers = new Timers();
  const ran: string[] = [];
  const cancel = timers.after(1, () => ran.push("cancelled"));
  timers.after(1, () => ran.push("kept"));
  cancel();
  // timers of equal or shorter delay run before a later one: this one is a barrier
  await new Promise<void>((resolve) => timers.after(5, resolve));
  assert.deepEqual(ran, ["kept"]);
  timers.after(1, () => ran.push("pending at close"));
  timers.close();
  timers.after(1, () => ran.push("after close"));
  await new Promise<void>((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(ran, ["kept"]);
});
