// Revocation with synthetic test keys (tdx_ticket_testing.ts): nothing here
// chains to the Intel SGX Root CA; the test root is passed explicitly.
import assert from "node:assert/strict";
import { TestDcap } from "./testing.ts";
import { verifyQuote } from "./verify.ts";
import { QuoteVerificationError } from "./errors.ts";
import { collateralBytes } from "./collateral.ts";
import { isRevoked, parseCrl } from "./crl.ts";
import { readCollateral } from "./_test_vectors.ts";

const NOW = new Date("2026-01-15T12:00:00Z");
const reportData = new Uint8Array(64).fill(7);

Deno.test("a synthetic quote verifies against its explicit test root only", async () => {
  const pki = TestDcap.create({ now: NOW });
  const quote = pki.quote({ reportData });
  const verdict = await verifyQuote(quote, pki.collateral, { now: NOW, trustedRoot: pki.rootDer });
  assert.equal(verdict.status, "UpToDate");
  // Against the pinned Intel root the first test-signed item (the root CRL) fails.
  await assert.rejects(
    verifyQuote(quote, pki.collateral, { now: NOW }),
    (e) => e instanceof QuoteVerificationError && e.code === "crl",
  );
  const intelCollateral = readCollateral("cB_phala_tdx_90c06f_2026-02_");
  await assert.rejects(
    verifyQuote(quote, intelCollateral, { now: Date.parse("2026-03-20T10:41:14Z") }),
    (e) => e instanceof QuoteVerificationError && e.code === "certificate_chain",
  );
});

Deno.test("a PCK leaf whose serial the synthetic PCK CRL lists is revoked", async () => {
  const pki = TestDcap.create({ now: NOW, revokedSerials: ["01", "4d4f53"] });
  assert.equal(pki.pckSerial, "4d4f53");
  await assert.rejects(
    verifyQuote(pki.quote({ reportData }), pki.collateral, { now: NOW, trustedRoot: pki.rootPem }),
    (e) => e instanceof QuoteVerificationError && e.code === "revoked" && /4d4f53/.test(e.message),
  );
  const other = TestDcap.create({ now: NOW, revokedSerials: ["4d4f54"] });
  const ok = await verifyQuote(other.quote({ reportData }), other.collateral, {
    now: NOW,
    trustedRoot: other.rootDer,
  });
  assert.equal(ok.status, "UpToDate");
});

Deno.test("isRevoked finds real revoked serials in Intel's PCK CRL", () => {
  const crl = parseCrl(
    collateralBytes(readCollateral("cA_phala_tdx_b0c06f_2025-06_").pck_crl, "pck_crl"),
  );
  assert.equal(crl.revoked.length, 44);
  assert(isRevoked(crl, "6FC34E5023E728923435D61AA4B83C618166AD35"));
  assert(isRevoked(crl, "0x6fc34e5023e728923435d61aa4b83c618166ad35"));
  assert(!isRevoked(crl, "3c16ed54eacbb4ced072be72630c85788cf46e36")); // q01's leaf
});
