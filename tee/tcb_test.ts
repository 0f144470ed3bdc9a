// TCB evaluation rules on real quotes with edited (unsigned) collateral:
// covers branches no real vector reaches.
import assert from "node:assert/strict";
import { evaluateTcb } from "./_tcb.ts";
import { parseQeIdentity, parseTcbInfo } from "./collateral.ts";
import { QuoteVerificationError, type VerificationFailure } from "./errors.ts";
import { parseQuote } from "./quote.ts";
import { readCollateral, readQuote } from "./_test_vectors.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function setup(quoteFile: string, collateral: string) {
  const quote = parseQuote(readQuote(quoteFile));
  const c = readCollateral(collateral);
  const cd = quote.signatureData.certification;
  assert(cd.type === 5 && cd.pck);
  return {
    quote,
    pck: cd.pck,
    tcb: JSON.parse(c.tcb_info) as Json,
    qe: JSON.parse(c.qe_identity) as Json,
  };
}

function evaluate(s: ReturnType<typeof setup>) {
  return evaluateTcb(
    s.quote,
    s.pck,
    parseTcbInfo(JSON.stringify(s.tcb)),
    parseQeIdentity(JSON.stringify(s.qe)),
  );
}

function rejects(s: ReturnType<typeof setup>, code: VerificationFailure) {
  assert.throws(() => evaluate(s), (e) => e instanceof QuoteVerificationError && e.code === code);
}

const q01 = () => setup("q01_tdx_v4_phala_fmspc-b0c06f000000.bin", "cA_phala_tdx_b0c06f_2025-06_");
const q03 = () =>
  setup("q03_sgx_v3_phala_fmspc-00a067110000.bin", "cC_phala_sgx_00a067110000_2025-06_");
const q05 = () =>
  setup("q05_tdx_v5_td15_google_fmspc-90c06f000000.bin", "cB_phala_tdx_90c06f_2026-02_");

Deno.test("tcb: unedited collateral gives the vector statuses", () => {
  assert.equal(evaluate(q01()).status, "UpToDate");
  assert.equal(evaluate(q03()).status, "ConfigurationAndSWHardeningNeeded");
  assert.equal(evaluate(q05()).status, "UpToDate");
});

Deno.test("tcb: Intel skips TDX components 0-1 when TEE_TCB_SVN[1] > 0 (dcap-qvl does not)", () => {
  const s = q01(); // TEE_TCB_SVN 06 01 03 …: module major version 1
  s.tcb.tcbLevels[0].tcb.tdxtcbcomponents[0].svn = 99;
  s.tcb.tcbLevels[0].tcb.tdxtcbcomponents[1].svn = 99;
  // dcap-qvl would fall through to the OutOfDate level; Intel's rule keeps level 0.
  assert.equal(evaluate(s).status, "UpToDate");
  s.tcb.tcbLevels[0].tcb.tdxtcbcomponents[2].svn = 99; // component 2 is compared
  assert.equal(evaluate(s).platformStatus, "OutOfDate");
});

Deno.test("tcb: QE identity status OutOfDate and Revoked converge", () => {
  for (const [make, want] of [[q01, "OutOfDate"], [q03, "OutOfDateConfigurationNeeded"]] as const) {
    const s = make();
    s.qe.tcbLevels = [
      { tcb: { isvsvn: 200 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
      {
        tcb: { isvsvn: 0 },
        tcbDate: "2020-01-01T00:00:00Z",
        tcbStatus: "OutOfDate",
        advisoryIDs: ["INTEL-SA-X"],
      },
    ];
    const v = evaluate(s);
    assert.equal(v.status, want);
    assert.equal(v.qeStatus, "OutOfDate");
    assert(v.advisoryIds.includes("INTEL-SA-X"));
    s.qe.tcbLevels[1].tcbStatus = "Revoked";
    assert.equal(evaluate(s).status, "Revoked");
    s.qe.tcbLevels.pop();
    rejects(s, "tcb_not_supported");
  }
});

Deno.test("tcb: QE identity mismatches are rejected", () => {
  for (
    const [field, value] of [
      ["mrsigner", "00".repeat(32)],
      ["isvprodid", 3],
      ["miscselect", "00000001"],
      ["attributes", "13000000000000000000000000000000"],
    ] as const
  ) {
    const s = q01();
    s.qe[field] = value;
    rejects(s, "qe_identity_mismatch");
  }
  const s = q01();
  s.qe.id = "QE";
  rejects(s, "qe_identity");
});

Deno.test("tcb: TDX module identity selection, mismatch and OutOfDate", () => {
  let s = q01();
  s.tcb.tdxModuleIdentities = s.tcb.tdxModuleIdentities.filter((m: Json) => m.id !== "TDX_01");
  rejects(s, "tdx_module_mismatch");
  s = q01();
  s.tcb.tdxModuleIdentities.find((m: Json) => m.id === "TDX_01").mrsigner = "11".repeat(48);
  rejects(s, "tdx_module_mismatch");
  s = q01();
  s.tcb.tdxModuleIdentities.find((m: Json) => m.id === "TDX_01").tcbLevels = [
    { tcb: { isvsvn: 9 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
    {
      tcb: { isvsvn: 1 },
      tcbDate: "2020-01-01T00:00:00Z",
      tcbStatus: "OutOfDate",
      advisoryIDs: ["INTEL-SA-M"],
    },
  ];
  const v = evaluate(s);
  assert.equal(v.tdxModuleStatus, "OutOfDate");
  assert.equal(v.status, "OutOfDate");
  assert.deepEqual(v.advisoryIds, ["INTEL-SA-M"]);
});

Deno.test("tcb: TD 1.5 relaunch is advised when TEE_TCB_SVN_2 already meets the newest level", () => {
  const s = q05(); // TEE_TCB_SVN 0b 01 04, TEE_TCB_SVN_2 0d 01 04
  const m = s.tcb.tdxModuleIdentities.find((x: Json) => x.id === "TDX_01");
  m.tcbLevels = [
    { tcb: { isvsvn: 13 }, tcbDate: "2026-01-01T00:00:00Z", tcbStatus: "UpToDate" },
    { tcb: { isvsvn: 2 }, tcbDate: "2020-01-01T00:00:00Z", tcbStatus: "OutOfDate" },
  ];
  // The newest platform level wants TDX component 2 = 5: the running module has 4, SVN_2 has 4.
  const newest = structuredClone(s.tcb.tcbLevels[0]);
  newest.tcb.tdxtcbcomponents[2].svn = 5;
  s.tcb.tcbLevels[0].tcbStatus = "OutOfDate";
  s.tcb.tcbLevels.unshift(newest);
  assert.equal(evaluate(s).status, "OutOfDate"); // SVN_2[2] = 4 < 5: no relaunch
  newest.tcb.tdxtcbcomponents[2].svn = 4;
  newest.tcb.tdxtcbcomponents[3].svn = 1; // still unmatched by the running TD (TEE_TCB_SVN[3] = 0)
  const v = evaluate(s);
  assert.equal(v.tdxModuleStatus, "OutOfDate");
  assert.equal(v.status, "TDRelaunchAdvised");
});

Deno.test("tcb: wrong TCB info kind, FMSPC and PCEID", () => {
  let s = q01();
  s.tcb.fmspc = "00A067110000";
  rejects(s, "fmspc_mismatch");
  s = q01();
  s.tcb.pceId = "0100";
  rejects(s, "fmspc_mismatch");
  const sgx = q03();
  const tdx = q01();
  rejects({ ...sgx, tcb: tdx.tcb }, "tcb_info");
});
