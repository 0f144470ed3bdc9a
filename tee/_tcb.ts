// TCB evaluation of a signature-verified quote against verified collateral:
// TCB info / QE identity consistency, TDX module identity, QE identity match,
// platform TCB level selection, TD relaunch and status convergence (Intel
// QVL 4.1.2.4.9–17). Pure functions, unit-tested with edited collateral.
import { equalBytes } from "@mosaik/transport";
import type { IsvTcbLevel, QeIdentity, TcbInfo, TcbLevel, TcbStatus } from "./collateral.ts";
import { QuoteVerificationError, type VerificationFailure } from "./errors.ts";
import { type EnclaveReport, type TdReport } from "./report.ts";
import { type Quote, TEE_TYPE_TDX } from "./quote.ts";
import type { PckExtensions } from "./pck_extensions.ts";

/** Final statuses of a verified quote (Intel QVL names). */
export type VerifiedStatus =
  | TcbStatus
  | "TDRelaunchAdvised"
  | "TDRelaunchAdvisedConfigurationNeeded";

/** The TCB part of a verdict. */
export interface TcbEvaluation {
  /** Final status after TDX module, TD relaunch and QE convergence. */
  status: VerifiedStatus;
  /** Union of the advisory ids of the matched platform, module and QE levels (sorted). */
  advisoryIds: string[];
  /** Status of the matched platform TCB level (TDX level for TDX quotes). */
  platformStatus: TcbStatus;
  /** tcbDate of the matched platform TCB level (epoch ms). */
  tcbDate: number;
  /** TDX module status (TDX quotes only). */
  tdxModuleStatus?: TcbStatus;
  /** Status of the QE from the QE identity. */
  qeStatus: TcbStatus;
}

function fail(code: VerificationFailure, message: string): never {
  throw new QuoteVerificationError(code, message);
}

/** Evaluates the TCB status of a quote whose signatures and chain are verified. */
export function evaluateTcb(
  quote: Quote,
  pck: PckExtensions,
  info: TcbInfo,
  qeId: QeIdentity,
): TcbEvaluation {
  const isTdx = quote.header.teeType === TEE_TYPE_TDX;
  // TCB info consistency (4.1.2.4.9–10).
  if (isTdx ? info.id !== "TDX" || info.version < 3 : info.id !== "SGX") {
    fail(
      "tcb_info",
      `TCB info ${info.id} v${info.version} does not fit a ${isTdx ? "TDX" : "SGX"} quote`,
    );
  }
  if (info.fmspc !== pck.fmspc) {
    fail("fmspc_mismatch", `TCB info FMSPC ${info.fmspc} is not the PCK's ${pck.fmspc}`);
  }
  if (info.pceId !== pck.pceId) {
    fail("fmspc_mismatch", `TCB info PCEID ${info.pceId} is not the PCK's ${pck.pceId}`);
  }
  if (qeId.id !== (isTdx ? "TD_QE" : "QE")) {
    fail("qe_identity", `QE identity ${qeId.id} does not fit the quote`);
  }
  const td = quote.body.kind === "sgx" ? undefined : quote.body;
  // TDX module identity (4.1.2.4.11).
  const module = td ? tdxModule(info, td) : undefined;
  // QE identity (4.1.2.4.14–15).
  const qeLevel = qeIdentityLevel(qeId, quote.signatureData.qeReport);
  // Platform TCB level (4.1.2.4.17).
  const { level, sgxLevel } = platformLevel(info, pck, td);
  let status: VerifiedStatus = level.status;
  const advisories = new Set(level.advisoryIds);
  if (module?.level) {
    for (const a of module.level.advisoryIds) advisories.add(a);
    status = converge(status, module.level.status);
    if (
      td?.kind === "td15" &&
      relaunchAdvised(info, td, level, sgxLevel.status, module.level, qeLevel)
    ) {
      status = level.status.includes("Configuration") || sgxLevel.status.includes("Configuration")
        ? "TDRelaunchAdvisedConfigurationNeeded"
        : "TDRelaunchAdvised";
    }
  }
  for (const a of qeLevel.advisoryIds) advisories.add(a);
  status = converge(status, qeLevel.status);
  return {
    status,
    advisoryIds: [...advisories].sort(),
    platformStatus: level.status,
    tcbDate: level.tcbDate,
    tdxModuleStatus: module?.level?.status ?? (td ? "UpToDate" : undefined),
    qeStatus: qeLevel.status,
  };
}

function tdxModule(info: TcbInfo, td: TdReport): { level?: IsvTcbLevel } {
  const ver = td.teeTcbSvn[1];
  let identity = info.tdxModule;
  if (ver > 0) {
    const id = `TDX_${ver.toString(16).toUpperCase().padStart(2, "0")}`;
    identity = info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
    if (!identity) fail("tdx_module_mismatch", `TCB info has no TDX module identity ${id}`);
  }
  if (!identity) fail("tdx_module_mismatch", "TCB info has no TDX module identity");
  if (!equalBytes(td.mrSignerSeam, identity.mrSigner)) {
    fail("tdx_module_mismatch", "MRSIGNERSEAM is not the module identity's signer");
  }
  // Intel requires SEAMATTRIBUTES to be zero and equal to the identity's
  // attributes, ignoring the mask (dcap-qvl applies the mask instead).
  if (
    td.seamAttributes.some((b) => b !== 0) || !equalBytes(td.seamAttributes, identity.attributes)
  ) {
    fail("tdx_module_mismatch", "SEAMATTRIBUTES do not match the module identity");
  }
  if (ver === 0) return {};
  const level = identity.tcbLevels.find((l) => td.teeTcbSvn[0] >= l.isvSvn);
  if (!level) {
    fail("tcb_not_supported", `TDX module SVN ${td.teeTcbSvn[0]} is below every module TCB level`);
  }
  return { level };
}

function qeIdentityLevel(id: QeIdentity, qe: EnclaveReport): IsvTcbLevel {
  const misc = qe.raw.subarray(16, 20);
  for (let i = 0; i < 4; i++) {
    if ((misc[i] & id.miscSelectMask[i]) !== id.miscSelect[i]) {
      fail("qe_identity_mismatch", "QE MISCSELECT does not match the QE identity");
    }
  }
  for (let i = 0; i < 16; i++) {
    if ((qe.attributes[i] & id.attributesMask[i]) !== id.attributes[i]) {
      fail("qe_identity_mismatch", "QE ATTRIBUTES do not match the QE identity");
    }
  }
  if (!equalBytes(qe.mrSigner, id.mrSigner)) {
    fail("qe_identity_mismatch", "QE MRSIGNER is not Intel's");
  }
  if (qe.isvProdId !== id.isvProdId) {
    fail("qe_identity_mismatch", `QE ISVPRODID ${qe.isvProdId} is not ${id.isvProdId}`);
  }
  const level = id.tcbLevels.find((l) => qe.isvSvn >= l.isvSvn);
  if (!level) fail("tcb_not_supported", `QE ISVSVN ${qe.isvSvn} is below every QE TCB level`);
  return level;
}

/**
 * Picks the SGX level (first level whose SGX components and PCESVN the PCK
 * meets) and, for TDX, the TDX level (first such level whose TDX components
 * TEE_TCB_SVN meets). Intel QVL (and go-tdx-guest) skip TDX components 0 and
 * 1 when TEE_TCB_SVN[1] > 0, because the module identity covers them;
 * dcap-qvl compares all 16. We follow Intel.
 */
function platformLevel(
  info: TcbInfo,
  pck: PckExtensions,
  td: TdReport | undefined,
): { level: TcbLevel; sgxLevel: TcbLevel } {
  let sgxLevel: TcbLevel | undefined;
  for (const level of info.tcbLevels) {
    if (pck.pceSvn < level.pceSvn) continue;
    if (!level.sgxComponents.every((v, i) => pck.sgxTcbComponents[i] >= v)) continue;
    sgxLevel ??= level;
    if (!td) return { level, sgxLevel };
    const svn = td.teeTcbSvn;
    const start = svn[1] > 0 ? 2 : 0;
    if (level.tdxComponents!.every((v, i) => i < start || svn[i] >= v)) return { level, sgxLevel };
  }
  fail(
    "tcb_not_supported",
    sgxLevel
      ? "no TCB level matches TEE_TCB_SVN"
      : "no TCB level matches the PCK's SGX components and PCESVN",
  );
}

/** Module or QE status OutOfDate / Revoked applied to a platform status. */
function converge(status: VerifiedStatus, other: TcbStatus): VerifiedStatus {
  if (other === "Revoked") return "Revoked";
  if (other !== "OutOfDate") return status;
  if (status === "UpToDate" || status === "SWHardeningNeeded") return "OutOfDate";
  if (status === "ConfigurationNeeded" || status === "ConfigurationAndSWHardeningNeeded") {
    return "OutOfDateConfigurationNeeded";
  }
  return status;
}

/** Intel TDRelaunchCheck (4.1.2.4.17.4.3), TD 1.5 bodies only. */
function relaunchAdvised(
  info: TcbInfo,
  td: TdReport,
  level: TcbLevel,
  sgx: TcbStatus,
  module: IsvTcbLevel,
  qe: IsvTcbLevel,
): boolean {
  if (qe.status === "OutOfDate" || qe.status === "Revoked") return false;
  if (module.status !== "OutOfDate") return false;
  if (level.status !== "OutOfDate" && level.status !== "OutOfDateConfigurationNeeded") return false;
  if (
    !["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"]
      .includes(sgx)
  ) {
    return false;
  }
  const svn2 = td.teeTcbSvn2!;
  const latest = info.tcbLevels[0];
  const ver = svn2[1];
  const identity = ver > 0
    ? info.tdxModuleIdentities.find((m) =>
      m.id.toUpperCase() === `TDX_${ver.toString(16).toUpperCase().padStart(2, "0")}`
    )
    : undefined;
  const latestModuleSvn = ver > 0 ? identity?.tcbLevels[0]?.isvSvn : latest.tdxComponents![0];
  if (latestModuleSvn === undefined || svn2[0] < latestModuleSvn) return false;
  return svn2[2] >= latest.tdxComponents![2];
}
