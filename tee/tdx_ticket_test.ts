import assert from "node:assert/strict";
import fc from "fast-check";
import { networkId, SecretKey, toHex } from "@mosaik/transport";
import {
  decodeTdxTicket,
  encodeTdxTicket,
  MAX_TDX_QUOTE,
  tdxReportData,
  TdxTicketDecodeError,
} from "./tdx_ticket.ts";

const net = networkId("tdx-ticket-test");
const peer = SecretKey.generate().peerId;

Deno.test("tdx binding: REPORTDATA depends on every bound field and is deterministic", () => {
  const t = 1_800_000_000_123;
  const rd = tdxReportData(peer, net, t);
  assert.equal(rd.length, 64);
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
