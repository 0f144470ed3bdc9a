// Cross-check of @mosaik/tee against @phala/dcap-qvl (pure JS) on every
// quote/collateral/time triple of the shared vectors.
//
// Where the two are expected to differ: dcap-qvl compares all 16 TDX TCB
// components when selecting a TCB level, while Intel's QVL (and go-tdx-guest)
// skip components 0 and 1 when TEE_TCB_SVN[1] > 0 because the TDX module
// identity (TDX_01/TDX_03) covers them. We follow Intel. No vector in
// vectors/tdx reaches that difference (TCB level selection), so here
// the two must agree on every triple.
import assert from "node:assert/strict";
import dcap from "npm:@phala/dcap-qvl@0.3.9";
import { QuoteVerificationError, verifyQuote } from "@mosaik/tee";
import { readCollateral, readQuote, vectorIndex } from "../tee/_test_vectors.ts";

for (const v of vectorIndex()) {
  if (v.collateral === null) continue;
  Deno.test(`@mosaik/tee agrees with dcap-qvl on ${v.quote.slice(0, 3)} + ${v.collateral}`, async () => {
    const quote = readQuote(v.quote);
    const collateral = readCollateral(v.collateral!);
    let theirs: { status: string; advisory_ids: string[] } | Error;
    try {
      theirs = dcap.verify(quote, collateral as Parameters<typeof dcap.verify>[1], v.time_unix);
    } catch (e) {
      theirs = e as Error;
    }
    let ours: { status: string; advisoryIds: string[] } | Error;
    try {
      ours = await verifyQuote(quote, collateral, { now: v.time_unix * 1000 });
    } catch (e) {
      ours = e as Error;
    }
    if (theirs instanceof Error) {
      assert(
        ours instanceof QuoteVerificationError,
        `dcap-qvl rejects (${theirs.message}), we accept`,
      );
      if (/No matching TCB level/.test(theirs.message)) {
        assert.equal(ours.code, "tcb_not_supported");
      }
    } else {
      assert(!(ours instanceof Error), `dcap-qvl accepts, we reject: ${ours}`);
      assert.equal(ours.status, theirs.status);
      assert.deepEqual(ours.advisoryIds, [...theirs.advisory_ids].sort());
    }
  });
}
