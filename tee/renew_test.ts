import assert from "node:assert/strict";
import { eventually } from "@mosaik/transport/testing";
import { type Ticket, TicketExpiryError } from "@mosaik/transport";
import { renewTicket } from "./renew.ts";

const enc = new TextEncoder();

const t = (kind: string, text: string): Ticket => ({ kind, data: enc.encode(text) });

Deno.test("renewTicket: republishes before each expiry until stopped", async () => {
  const published: Ticket[] = [];
  let issued = 0;
  const renewal = renewTicket({
    issue: () => ({ ...t("a", `ok:${++issued}`), expiresAt: Date.now() + 300 }),
    publish: (ticket) => published.push(ticket),
    margin: 150,
  });
  const first = await renewal.ready;
  assert.equal(published[0], first);
  await eventually(() => published.length >= 3, { message: "renewed twice" });
  // Each renewal happened before the previous ticket expired.
  for (let i = 1; i < published.length; i++) {
    assert.ok(published[i].expiresAt! - 300 < published[i - 1].expiresAt!);
  }
  renewal.stop(); // clears the timer: the test sanitizer fails on a leaked one
  assert.equal(renewal.current, published.at(-1));
});

Deno.test("renewTicket: retries failures, stops after a never-expiring ticket", async () => {
  const errors: unknown[] = [];
  let calls = 0;
  const published: Ticket[] = [];
  using renewal = renewTicket({
    issue: () => {
      if (++calls <= 2) throw new Error("issuer unavailable");
      return t("a", "ok:never");
    },
    publish: (ticket) => published.push(ticket),
    retryDelay: 10,
    onError: (e) => errors.push(e),
  });
  await renewal.ready;
  assert.equal(errors.length, 2);
  assert.equal(published.length, 1);
  assert.equal(calls, 3);
});

Deno.test("renewTicket: stopping before the first ticket rejects ready", async () => {
  const pending = Promise.withResolvers<Ticket>();
  const renewal = renewTicket({
    issue: () => pending.promise,
    publish: () => assert.fail("published after stop"),
  });
  renewal.stop();
  await assert.rejects(renewal.ready, TicketExpiryError);
  pending.resolve(t("a", "ok:1")); // the issue in flight completes after the stop
  await pending.promise;
  await Promise.resolve();
  assert.equal(renewal.current, undefined);
});
