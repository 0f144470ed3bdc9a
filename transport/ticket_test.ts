import assert from "node:assert/strict";
import { SecretKey } from "./ids.ts";
import { networkId } from "./vocabulary.ts";
import { eventually } from "./testing.ts";
import {
  checkTickets,
  requireTicket,
  scheduleExpiry,
  type Ticket,
  TicketExpiryError,
  type TicketValidator,
} from "./ticket.ts";

const net = networkId("tickets-test");
const peerId = SecretKey.generate().peerId;
const enc = new TextEncoder();

/** Accepts tickets whose data is "ok:<expiry ms>" (or "ok:never"). */
function fake(kind: string, id?: string): TicketValidator {
  return {
    kind,
    id: id as TicketValidator["id"],
    validate(ticket) {
      const text = new TextDecoder().decode(ticket.data);
      if (text === "throw") throw new Error("validator blew up");
      if (!text.startsWith("ok:")) return { ok: false, reason: `bad ${text}` };
      const rest = text.slice(3);
      return { ok: true, expiresAt: rest === "never" ? undefined : Number(rest) };
    },
  };
}
const t = (kind: string, text: string): Ticket => ({ kind, data: enc.encode(text) });

Deno.test("checkTickets: no validators accept everyone", async () => {
  assert.deepEqual(await checkTickets([], { peerId, tickets: [] }), {
    ok: true,
    expiresAt: undefined,
  });
});

Deno.test("checkTickets: latest accepted ticket per validator, earliest across validators", async () => {
  const tickets = [t("a", "ok:1000"), t("a", "ok:5000"), t("a", "bad"), t("b", "ok:3000")];
  const verdict = await checkTickets([fake("a"), fake("b")], { peerId, tickets }, {
    networkId: net,
  });
  assert.deepEqual(verdict, { ok: true, expiresAt: 3000 });
  const never = await checkTickets([fake("a")], {
    peerId,
    tickets: [t("a", "ok:10"), t("a", "ok:never")],
  }, { networkId: net });
  assert.deepEqual(never, { ok: true, expiresAt: undefined });
});

Deno.test("checkTickets: every validator must accept (AND)", async () => {
  const verdict = await checkTickets([fake("a"), fake("b")], {
    peerId,
    tickets: [t("a", "ok:1"), t("b", "nope")],
  }, { networkId: net });
  assert.equal(verdict.ok, false);
  assert.match((verdict as { reason: string }).reason, /b ticket rejected: bad nope/);
  const missing = await checkTickets([fake("c")], { peerId, tickets: [t("a", "ok:1")] }, {
    networkId: net,
  });
  assert.deepEqual(missing, { ok: false, reason: 'no ticket of kind "c"' });
});

Deno.test("checkTickets: a throwing validator is a rejection, not a crash", async () => {
  const verdict = await checkTickets([fake("a")], { peerId, tickets: [t("a", "throw")] }, {
    networkId: net,
  });
  assert.deepEqual(verdict, { ok: false, reason: "a ticket rejected: validator blew up" });
});

Deno.test("checkTickets: network comes from the entry or the options and must agree", async () => {
  const ok = [t("a", "ok:never")];
  assert.equal((await checkTickets([fake("a")], { peerId, tickets: ok })).ok, false);
  assert.equal((await checkTickets([fake("a")], { peerId, tickets: ok, network: net })).ok, true);
  const other = networkId("other");
  const verdict = await checkTickets([fake("a")], { peerId, tickets: ok, network: other }, {
    networkId: net,
  });
  assert.deepEqual(verdict, { ok: false, reason: "peer entry belongs to another network" });
});

Deno.test("requireTicket: boolean predicate, check() and a configuration id", async () => {
  const gate = requireTicket(fake("a", "11".repeat(32)), { networkId: net });
  assert.equal(await gate({ peerId, tickets: [t("a", "ok:7")] }), true);
  assert.equal(await gate({ peerId, tickets: [] }), false);
  assert.deepEqual(await gate.check({ peerId, tickets: [t("a", "ok:7")] }), {
    ok: true,
    expiresAt: 7,
  });
  assert.equal(gate.validators.length, 1);
  const same = requireTicket([fake("a", "11".repeat(32))], { networkId: net });
  const different = requireTicket([fake("a", "22".repeat(32))], { networkId: net });
  assert.ok(gate.id);
  assert.equal(gate.id, same.id);
  assert.notEqual(gate.id, different.id);
  assert.equal(requireTicket(fake("a")).id, undefined);
});

Deno.test("requireTicket: the clock option is what validators see", async () => {
  let seen: Date | undefined;
  const v: TicketValidator = {
    kind: "a",
    validate: (_t, ctx) => {
      seen = ctx.now;
      return { ok: true, expiresAt: undefined };
    },
  };
  await requireTicket(v, { networkId: net, clock: () => 1234 })({
    peerId,
    tickets: [t("a", "")],
  });
  assert.equal(seen?.getTime(), 1234);
});

Deno.test("scheduleExpiry: fires at expiry, asynchronously even when already past", async () => {
  let fired = 0;
  scheduleExpiry(Date.now() - 10, () => fired++);
  assert.equal(fired, 0);
  await eventually(() => fired === 1);
  scheduleExpiry(Date.now() + 30, () => fired++);
  await eventually(() => fired === 2);
});

Deno.test("scheduleExpiry: cancel, never-expiring and bad input", () => {
  let fired = false;
  const cancel = scheduleExpiry(Date.now() + 10, () => fired = true);
  cancel();
  cancel();
  assert.equal(fired, false);
  scheduleExpiry(undefined, () => fired = true)();
  assert.throws(() => scheduleExpiry(NaN, () => {}), TicketExpiryError);
});
