import assert from "node:assert/strict";
import { TestDcap } from "./testing.ts";
import { verifyQuote } from "./verify.ts";
import { checkPolicy } from "./policy.ts";
import { PolicyError, type PolicyFailure } from "./errors.ts";
import { readCollateral, readQuote } from "./_test_vectors.ts";

const NOW = new Date("2026-01-15T12:00:00Z");
const pki = TestDcap.create({ now: NOW });
const reportData = new Uint8Array(64).fill(9);
const mrTd = new Uint8Array(48).fill(0xaa);

function refused(code: PolicyFailure): (e: unknown) => boolean {
  return (e) => e instanceof PolicyError && e.code === code;
}

Deno.test("policy: expected measurements, REPORTDATA and age", async () => {
  const verdict = await verifyQuote(pki.quote({ reportData, mrTd }), pki.collateral, {
    now: NOW,
    trustedRoot: pki.rootDer,
  });
  checkPolicy(verdict, {
    mrTd: "aa".repeat(48),
    rtmr0: new Uint8Array(48).fill(0x20),
    rtmr3: "23".repeat(48),
    reportData: reportData.subarray(0, 32),
    allowedStatuses: ["UpToDate"],
  });
  assert.throws(() => checkPolicy(verdict, { mrTd: "ab".repeat(48) }), refused("measurement"));
  assert.throws(() => checkPolicy(verdict, { rtmr2: "00".repeat(48) }), refused("measurement"));
  assert.throws(() => checkPolicy(verdict, { mrEnclave: "00".repeat(32) }), refused("measurement"));
  assert.throws(() => checkPolicy(verdict, { reportData: "08" }), refused("report_data"));
  assert.throws(() => checkPolicy(verdict, { maxAge: 1000 }), refused("age"));
  const ctx = { now: NOW, quotedAt: +NOW - 500 };
  checkPolicy(verdict, { maxAge: 1000 }, ctx);
  assert.throws(() => checkPolicy(verdict, { maxAge: 100 }, ctx), refused("age"));
  assert.throws(
    () => checkPolicy(verdict, { maxAge: 100 }, { now: NOW, quotedAt: +NOW + 1 }),
    refused("age"),
  );
  // verifyQuote applies a policy given in its options
  await assert.rejects(
    verifyQuote(pki.quote({ reportData }), pki.collateral, {
      now: NOW,
      trustedRoot: pki.rootDer,
      policy: { mrTd },
    }),
    refused("measurement"),
  );
});

Deno.test("policy: debug TDs are refused by default", async () => {
  const verdict = await verifyQuote(pki.quote({ reportData, debug: true }), pki.collateral, {
    now: NOW,
    trustedRoot: pki.rootDer,
  });
  assert.equal(
    verdict.quote.body.kind === "td10" && verdict.quote.body.tdAttributeFlags.debug,
    true,
  );
  assert.throws(() => checkPolicy(verdict, {}), refused("debug"));
  checkPolicy(verdict, { allowDebug: true });
});

Deno.test("policy: statuses, SEPT_VE_DISABLE and service TDs on real quotes", async () => {
  const q03 = await verifyQuote(
    readQuote("q03_sgx_v3_phala_fmspc-00a067110000.bin"),
    readCollateral("cC_phala_sgx_00a067110000_2025-06_"),
    { now: 1752919277_000 },
  );
  checkPolicy(q03, {}); // default: everything but Revoked
  checkPolicy(q03, { minTcbDate: q03.tcbDate });
  assert.throws(() => checkPolicy(q03, { minTcbDate: q03.tcbDate + 1 }), refused("status"));
  assert.throws(
    () => checkPolicy(q03, { allowedStatuses: ["UpToDate", "SWHardeningNeeded"] }),
    refused("status"),
  );
  checkPolicy(q03, {
    mrSigner: "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
  });
  assert.throws(() => checkPolicy(q03, { mrTd: "00".repeat(48) }), refused("measurement"));
  checkPolicy({ ...q03, status: "OutOfDate" }, {});
  assert.throws(() => checkPolicy({ ...q03, status: "Revoked" }, {}), refused("status"));

  const q05 = await verifyQuote(
    readQuote("q05_tdx_v5_td15_google_fmspc-90c06f000000.bin"),
    readCollateral("cB_phala_tdx_90c06f_2026-02_"),
    { now: 1774003274_000 },
  );
  assert(q05.quote.body.kind === "td15");
  const body = q05.quote.body;
  checkPolicy(q05, { mrServiceTd: "00".repeat(48) });
  const withService = {
    ...q05,
    quote: { ...q05.quote, body: { ...body, mrServiceTd: new Uint8Array(48).fill(1) } },
  };
  assert.throws(() => checkPolicy(withService, {}), refused("service_td"));
  checkPolicy(withService, { allowServiceTd: true });
  checkPolicy(withService, { mrServiceTd: "01".repeat(48) });
  const noSept = {
    ...q05,
    quote: {
      ...q05.quote,
      body: { ...body, tdAttributeFlags: { ...body.tdAttributeFlags, septVeDisable: false } },
    },
  };
  checkPolicy(noSept, {});
  assert.throws(
    () => checkPolicy(noSept, { requireSeptVeDisable: true }),
    refused("td_attributes"),
  );
  const reserved = {
    ...q05,
    quote: {
      ...q05.quote,
      body: { ...body, tdAttributeFlags: { ...body.tdAttributeFlags, reservedBitsSet: true } },
    },
  };
  assert.throws(() => checkPolicy(reserved, {}), refused("td_attributes"));
});
