import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { type NetworkId, networkId, type PeerId, SecretKey, toHex } from "@mosaik/transport";
import {
  decodeTdxTicket,
  encodeTdxTicket,
  issueTdxTicket,
  MAX_TDX_QUOTE,
  tdxReportData,
  TdxTicketDecodeError,
  TdxTicketError,
  tdxValidator,
  type TdxValidatorOptions,
} from "./tdx_ticket.ts";
import { TestDcap } from "./testing.ts";
import { TsmError } from "./errors.ts";
import type { Quote } from "./quote.ts";
import type { Ticket, TicketValidator } from "@mosaik/transport";

const net = networkId("tdx-ticket-test");
const peer = SecretKey.generate().peerId;

Deno.test("tdx binding: REPORTDATA depends on every bound field and is deterministic", () => {
  const t = 1_800_000_000_123;
  const rd = tdxReportData(peer, net, t);
  assert.equal(rd.length, 64);
  assert.equal(Object.getPrototypeOf(rd), Uint8Array.prototype, "a plain Uint8Array");
  assert.deepEqual(tdxReportData(peer, net, t), rd);
  assert.notDeepEqual(tdxReportData(SecretKey.generate().peerId, net, t), rd);
  assert.notDeepEqual(tdxReportData(peer, networkId("other"), t), rd);
  assert.notDeepEqual(tdxReportData(peer, net, t + 1), rd); // full millisecond precision
  assert.throws(() => tdxReportData(peer, net, -1), TdxTicketDecodeError);
  assert.throws(() => tdxReportData(peer, net, 1.5), TdxTicketDecodeError);
});

Deno.test("tdx binding: matches an independent SHA-512 of the documented layout", async () => {
  const key = SecretKey.from(new Uint8Array(32).fill(1));
  const rd = tdxReportData(key.peerId, networkId("ab".repeat(32)), 0x0102030405);
  const input = new Uint8Array([
    ...new TextEncoder().encode("mosaik.tee.tdx.ticket.v1\0"),
    ...key.publicKey,
    ...new Uint8Array(32).fill(0xab),
    ...[0, 0, 0, 1, 2, 3, 4, 5],
  ]);
  const expected = new Uint8Array(await crypto.subtle.digest("SHA-512", input));
  assert.equal(toHex(rd), toHex(expected));
});

Deno.test("tdx ticket data: round trip and strict decoding", () => {
  const quote = crypto.getRandomValues(new Uint8Array(5000));
  const bytes = encodeTdxTicket({ expiresAt: 1_800_000_000_000, quote });
  const back = decodeTdxTicket(bytes);
  assert.equal(back.expiresAt, 1_800_000_000_000);
  assert.deepEqual(back.quote, quote);
  const bad = (mutate: (b: Uint8Array) => Uint8Array) =>
    assert.throws(() => decodeTdxTicket(mutate(bytes.slice())), TdxTicketDecodeError);
  bad((b) => b.subarray(0, 10)); // truncated header
  bad((b) => b.subarray(0, b.length - 1)); // truncated quote
  bad((b) => new Uint8Array([...b, 0])); // trailing byte
  bad((b) => (b[0] = 0x4e, b)); // magic
  bad((b) => (b[4] = 2, b)); // version
  bad((b) => (b.fill(0xff, 5, 13), b)); // expiry beyond 2^53
  bad((b) => (b.fill(0xff, 13, 17), b)); // absurd length
  assert.throws(
    () => encodeTdxTicket({ expiresAt: 1, quote: new Uint8Array(MAX_TDX_QUOTE + 1) }),
    TdxTicketDecodeError,
  );
  assert.throws(() => encodeTdxTicket({ expiresAt: NaN, quote }), TdxTicketDecodeError);
});

Deno.test("tdx ticket data fuzz: random and mutated bytes only raise TdxTicketDecodeError", () => {
  const good = encodeTdxTicket({ expiresAt: 123, quote: new Uint8Array(64).fill(9) });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
          const b = good.slice();
          b[i] = v;
          return b;
        }),
        fc.nat(good.length).map((n) => good.subarray(0, n)),
      ),
      (bytes) => {
        try {
          const t = decodeTdxTicket(bytes);
          assert.equal(bytes.length, 17 + t.quote.length);
        } catch (e) {
          if (!(e instanceof TdxTicketDecodeError)) throw e;
        }
      },
    ),
    { numRuns: 5000 },
  );
});

// ---- validation against a TEST DCAP hierarchy (never chained to Intel's root) ----

const pki = TestDcap.create();
const HOUR = 3_600_000;
const ctx = (now = new Date()) => ({ peerId: peer, networkId: net, now });

function ticketFor(
  options: { peerId?: PeerId; networkId?: NetworkId; expiresAt?: number; debug?: boolean } = {},
  authority: TestDcap = pki,
): Ticket {
  const expiresAt = options.expiresAt ?? Date.now() + HOUR;
  const reportData = tdxReportData(options.peerId ?? peer, options.networkId ?? net, expiresAt);
  const quote = authority.quote({ reportData, debug: options.debug });
  return { kind: "tdx", data: encodeTdxTicket({ expiresAt, quote }), expiresAt };
}

const validator = (extra: Partial<TdxValidatorOptions> = {}) =>
  tdxValidator({ collateral: pki.collateral, trustedRoot: pki.rootDer, ...extra });

async function refused(v: TicketValidator, t: Ticket, pattern: RegExp, now?: Date) {
  const verdict = await v.validate(t, ctx(now));
  assert.equal(verdict.ok, false, "expected a refusal");
  assert.match((verdict as { reason: string }).reason, pattern);
}

Deno.test("tdx validator: a bound, verified ticket is accepted until its expiry", async () => {
  const t = ticketFor();
  const verdict = await validator().validate(t, ctx());
  assert.deepEqual(verdict, { ok: true, expiresAt: t.expiresAt });
  // The PEM form of the test root works too.
  assert.equal((await validator({ trustedRoot: pki.rootPem }).validate(t, ctx())).ok, true);
});

Deno.test("tdx validator: the binding rejects other peers, networks and a changed expiry", async () => {
  const v = validator();
  await refused(v, ticketFor({ peerId: SecretKey.generate().peerId }), /REPORTDATA/);
  await refused(v, ticketFor({ networkId: networkId("elsewhere") }), /REPORTDATA/);
  const t = ticketFor();
  const { quote, expiresAt } = decodeTdxTicket(t.data);
  const stretched = encodeTdxTicket({ expiresAt: expiresAt + 10 * HOUR, quote });
  await refused(v, { kind: "tdx", data: stretched }, /REPORTDATA/);
});

Deno.test("tdx validator: expiry and lifetime", async () => {
  const t = ticketFor({ expiresAt: Date.now() + 1000 });
  await refused(validator(), t, /expired/, new Date(t.expiresAt!));
  await refused(validator({ maxLifetime: 500 }), t, /longer than allowed/);
  assert.equal((await validator({ maxLifetime: 5000 }).validate(t, ctx())).ok, true);
});

Deno.test("tdx validator: policy (measurements, debug) and trust anchor", async () => {
  const t = ticketFor();
  const mrTd = new Uint8Array(48).fill(0x11); // what TestDcap reports by default
  assert.equal((await validator({ policy: { mrTd } }).validate(t, ctx())).ok, true);
  await refused(validator({ policy: { mrTd: new Uint8Array(48).fill(0x12) } }), t, /MRTD/);
  await refused(validator({ policy: { rtmr2: "ab".repeat(48) } }), t, /RTMR2/);
  const debug = ticketFor({ debug: true });
  await refused(validator(), debug, /debug/);
  assert.equal((await validator({ policy: { allowDebug: true } }).validate(debug, ctx())).ok, true);
  // Default trust anchor is Intel's root: a test-signed quote never passes it.
  await refused(tdxValidator({ collateral: pki.collateral }), t, /crl|certificate_chain/);
  // A quote from another (test) hierarchy does not chain to this root.
  await refused(validator(), ticketFor({}, TestDcap.create()), /certificate_chain|crl/);
});

Deno.test("tdx validator: a list of policies means any of them (e.g. two image versions)", async () => {
  const t = ticketFor();
  const v1 = { mrTd: new Uint8Array(48).fill(0x11), rtmr2: new Uint8Array(48).fill(0x22) };
  const v2 = { mrTd: new Uint8Array(48).fill(0x99) };
  assert.equal((await validator({ policy: [v2, v1] }).validate(t, ctx())).ok, true);
  await refused(validator({ policy: [v2, { rtmr1: new Uint8Array(48) }] }), t, /none of 2/);
  // Every alternative still refuses debug TDs unless it says otherwise.
  await refused(validator({ policy: [v2, v1] }), ticketFor({ debug: true }), /debug/);
  assert.throws(() => validator({ policy: [] }), TdxTicketError);
});

Deno.test("tdx validator: collateral provider, verdict capped by collateral expiry", async () => {
  const seen: Quote[] = [];
  const v = tdxValidator({
    collateralProvider: (quote) => {
      seen.push(quote);
      return pki.collateral;
    },
    trustedRoot: pki.rootDer,
  });
  const long = ticketFor({ expiresAt: Date.now() + 90 * 24 * HOUR });
  const verdict = await v.validate(long, ctx());
  assert.equal(seen.length, 1);
  assert(verdict.ok);
  // TestDcap's collateral says nextUpdate = now + 30 days: re-verify by then.
  assert(verdict.expiresAt! < long.expiresAt!);
  assert(Math.abs(verdict.expiresAt! - (Date.now() + 30 * 24 * HOUR)) < 60_000);
  // A ticket bound to another peer is refused before the provider is asked.
  await refused(v, ticketFor({ peerId: SecretKey.generate().peerId }), /REPORTDATA/);
  assert.equal(seen.length, 1);
  assert.throws(() => tdxValidator({}), TdxTicketError);
});

Deno.test("tdx validator: the accepted-ticket cache never widens what is accepted", async () => {
  const coll = { ...pki.collateral };
  const v = tdxValidator({ collateral: coll, trustedRoot: pki.rootDer });
  const t = ticketFor();
  assert.equal((await v.validate(t, ctx())).ok, true);
  assert.equal((await v.validate(t, ctx())).ok, true); // served from the cache
  // Other bytes from the same peer are verified, not served from the cache.
  const altered = { ...t, data: t.data.slice() };
  altered.data[altered.data.length - 1] ^= 1;
  assert.equal((await v.validate(altered, ctx())).ok, false);
  t.data[t.data.length - 1] ^= 1; // the cache holds a copy: changing the bytes in place is no way in
  assert.equal((await v.validate(t, ctx())).ok, false);
  t.data[t.data.length - 1] ^= 1;
  // Another peer presenting the same bytes: still bound to the holder.
  const thief = { peerId: SecretKey.generate().peerId, networkId: net, now: new Date() };
  assert.equal((await v.validate(t, thief)).ok, false);
  // A time before the cached check is verified again (certificates not yet valid).
  await refused(v, t, /not at|valid/, new Date(Date.now() - 3 * 24 * HOUR));
  // Changed collateral clears the cache.
  coll.pck_crl = "zz";
  await refused(v, t, /pck_crl|hex/);
});

Deno.test("tdx validator: ids follow the configuration", () => {
  const a = validator({ policy: { mrTd: "AA".repeat(48) } });
  const b = validator({ policy: { mrTd: "aa".repeat(48) } });
  const c = validator({ policy: { mrTd: "ab".repeat(48) } });
  const d = tdxValidator({ collateral: pki.collateral, policy: { mrTd: "aa".repeat(48) } });
  assert.equal(a.id, b.id);
  assert.notEqual(a.id, c.id);
  assert.notEqual(a.id, d.id);
});

Deno.test("issueTdxTicket: binds the quote it obtains, refuses bad input", async () => {
  const t = await issueTdxTicket({
    peerId: peer,
    networkId: net,
    expiresIn: HOUR,
    quote: (reportData) => Promise.resolve(pki.quote({ reportData })),
  });
  assert.equal(t.kind, "tdx");
  assert.equal((await validator().validate(t, ctx())).ok, true);
  await assert.rejects(
    issueTdxTicket({
      peerId: peer,
      networkId: net,
      expiresIn: HOUR,
      quote: () => Promise.resolve(pki.quote({ reportData: new Uint8Array(64) })),
    }),
    TdxTicketError,
  );
  await assert.rejects(
    issueTdxTicket({ peerId: peer, networkId: net, expiresAt: Date.now() - 1 }),
    TdxTicketError,
  );
  await assert.rejects(issueTdxTicket({ peerId: peer, networkId: net }), TdxTicketError);
  // Outside a TD (no configfs-tsm report tree) the default source fails with a typed error.
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      issueTdxTicket({
        peerId: peer,
        networkId: net,
        expiresIn: HOUR,
        tsm: { root: `${dir}/missing` },
      }),
      (e) => e instanceof TsmError && e.code === "unavailable",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tdx validator fuzz: random and mutated tickets are refused without throwing", async () => {
  const v = validator();
  const good = ticketFor().data;
  const inputs = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const b = good.slice();
        b[i] ^= x;
        return b;
      }),
      fc.nat(good.length - 1).map((n) => good.slice(0, n)),
    ),
    { numRuns: 1500, seed: 42 },
  );
  let accepted = 0;
  for (const data of inputs) {
    const verdict = await v.validate({ kind: "tdx", data }, ctx());
    if (verdict.ok) accepted++;
  }
  // Only flips in bytes no signature covers (e.g. the embedded root's own
  // signature, the PEM terminator) may still pass; nearly all must not.
  assert(accepted < inputs.length / 20, `accepted ${accepted} of ${inputs.length}`);
});
