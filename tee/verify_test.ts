import assert from "node:assert/strict";
import { concatBytes } from "@mosaik/transport";
import { QuoteVerifier, verifyQuote, verifyQuoteSignatures } from "./verify.ts";
import { QuoteVerificationError } from "./errors.ts";
import { parseQuote } from "./quote.ts";
import {
  readCollateral,
  readQuote,
  sidecar,
  u16le,
  vectorIndex,
  withCertificationData,
} from "./_test_vectors.ts";

interface Expectation {
  result: "verified" | "rejected";
  tcb_status?: string;
  advisory_ids?: string[];
  error?: string;
}

function expectationOf(quote: string, collateral: string | null, time: number): Expectation {
  // deno-lint-ignore no-explicit-any
  const vectors = (sidecar(quote) as any).verification_vectors as any[];
  const v = vectors.find((x) => (x.collateral ?? null) === collateral && x.time_unix === time);
  assert(v, `sidecar of ${quote} lists ${collateral} @ ${time}`);
  return v.independent_reimplementation_result;
}

for (const v of vectorIndex()) {
  Deno.test(`vector ${v.quote.slice(0, 3)} + ${v.collateral ?? "no collateral"} @ ${v.time_unix}`, async () => {
    const quote = readQuote(v.quote);
    const now = v.time_unix * 1000;
    const want = expectationOf(v.quote, v.collateral, v.time_unix);
    if (v.collateral === null) {
      const run = verifyQuoteSignatures(quote, { now });
      if (want.result === "verified") {
        const r = await run;
        assert.equal(r.quote.signedRegion.length > 0, true);
      } else {
        await assert.rejects(
          run,
          (e) => e instanceof QuoteVerificationError && e.code === "certificate_expired",
        );
      }
      return;
    }
    const run = verifyQuote(quote, readCollateral(v.collateral), { now });
    if (want.result === "verified") {
      const verdict = await run;
      assert.equal(verdict.status, want.tcb_status);
      assert.deepEqual(verdict.advisoryIds, want.advisory_ids);
    } else {
      assert.match(want.error!, /no matching TCB level/);
      await assert.rejects(
        run,
        (e) =>
          e instanceof QuoteVerificationError && e.code === "tcb_not_supported" &&
          (!want.error!.includes("SGX components") || /SGX components/.test(e.message)),
      );
    }
  });
}

Deno.test("a warm verification reuses collateral and PCK chain", async () => {
  const quote = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");
  const collateral = readCollateral("cA_phala_tdx_b0c06f_2025-06_");
  const now = 1752919234_000;
  const verifier = new QuoteVerifier();
  const a = await verifier.verify(quote, collateral, { now });
  assert.deepEqual(verifier.cacheStats, { collateralHits: 0, chainHits: 0, qeReportHits: 0 });
  const b = await verifier.verify(quote, collateral, { now });
  assert.deepEqual(verifier.cacheStats, { collateralHits: 1, chainHits: 1, qeReportHits: 1 });
  assert.deepEqual(b, a);
  assert.equal(a.status, "UpToDate");
  assert(a.expiresAt >= now && a.expiresAt <= Date.parse("2025-07-19T10:16:03Z"));
  // Outside the cached window the collateral is re-checked and fails with its own reason.
  await assert.rejects(
    verifyQuote(quote, collateral, { now: Date.parse("2025-08-01T00:00:00Z") }),
    (e) => e instanceof QuoteVerificationError && e.code === "collateral_expired",
  );
  // Editing the cached collateral object in place is noticed.
  collateral.tcb_info = collateral.tcb_info.replace('"UpToDate"', '"OutOfDate"');
  await assert.rejects(
    verifyQuote(quote, collateral, { now }),
    (e) => e instanceof QuoteVerificationError && e.code === "tcb_info",
  );
});

Deno.test("an invalid verification time is refused, not treated as always valid", async () => {
  const quote = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");
  await assert.rejects(verifyQuoteSignatures(quote, { now: new Date("nope") }), TypeError);
  await assert.rejects(
    verifyQuote(quote, readCollateral("cA_phala_tdx_b0c06f_2025-06_"), { now: NaN }),
    TypeError,
  );
});

Deno.test("types 1-4 verify with the PCK chain supplied from elsewhere", async () => {
  const q01 = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");
  const parsed = parseQuote(q01);
  assert(parsed.signatureData.certification.type === 5);
  const chainPem = new TextDecoder().decode(parsed.signatureData.certification.data).replace(
    /\0+$/,
    "",
  );
  const ppid = new Uint8Array(16);
  const type1 = withCertificationData(
    q01,
    1,
    concatBytes(ppid, new Uint8Array(16), u16le(11), u16le(0)),
  );
  const collateral = readCollateral("cA_phala_tdx_b0c06f_2025-06_");
  const now = 1752919234_000;
  await assert.rejects(
    verifyQuote(type1, collateral, { now }),
    (e) => e instanceof QuoteVerificationError && e.code === "unsupported",
  );
  const verdict = await verifyQuote(type1, { ...collateral, pck_certificate_chain: chainPem }, {
    now,
  });
  assert.equal(verdict.status, "UpToDate");
  assert.equal(verdict.pck.fmspc, "b0c06f000000");
  await verifyQuoteSignatures(type1, { now, pckCertificateChain: chainPem });
  // Another platform's PCK chain does not carry the key that signed this QE report.
  const other = parseQuote(readQuote("q08_tdx_v4_automata_fmspc-00806f050000.bin"));
  assert(other.signatureData.certification.type === 5);
  const otherPem = new TextDecoder().decode(other.signatureData.certification.data).replace(
    /\0+$/,
    "",
  );
  await assert.rejects(
    verifyQuoteSignatures(type1, { now, pckCertificateChain: otherPem }),
    (e) => e instanceof QuoteVerificationError && e.code === "qe_report_signature",
  );
});
