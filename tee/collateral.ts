/**
 * DCAP collateral in the JSON layout used by dcap-qvl (`QuoteCollateralV3`)
 * and the shared test vectors, plus strict decoders for Intel's TCB info and
 * QE identity documents.
 *
 * @module
 */
import { fromHex } from "@mosaik/transport";
import { CollateralFormatError } from "./errors.ts";

/**
 * Collateral for one quote. PEM chains are signer first, root last; CRLs are
 * DER given as hex text or bytes; `tcb_info` and `qe_identity` are the exact
 * signed JSON text of the inner objects (never re-serialized).
 */
export interface Collateral {
  /** PEM chain of the PCK CRL issuer (PCK Platform/Processor CA, root). */
  pck_crl_issuer_chain: string;
  /** Intel SGX Root CA CRL (DER, hex or bytes). */
  root_ca_crl: string | Uint8Array;
  /** PCK CA CRL (DER, hex or bytes). */
  pck_crl: string | Uint8Array;
  /** PEM chain of the TCB info signer (TCB Signing certificate, root). */
  tcb_info_issuer_chain: string;
  /** Exact signed text of the `tcbInfo` object. */
  tcb_info: string;
  /** Raw r‖s signature over `tcb_info` (hex or bytes). */
  tcb_info_signature: string | Uint8Array;
  /** PEM chain of the QE identity signer. */
  qe_identity_issuer_chain: string;
  /** Exact signed text of the `enclaveIdentity` object. */
  qe_identity: string;
  /** Raw r‖s signature over `qe_identity` (hex or bytes). */
  qe_identity_signature: string | Uint8Array;
  /**
   * PEM PCK chain (leaf, PCK CA, root) for quotes whose certification data
   * is type 1–4 and so does not carry it; ignored for type 5.
   */
  pck_certificate_chain?: string;
}

/** TCB statuses that Intel's TCB info and QE identity documents use. */
export type TcbStatus =
  | "UpToDate"
  | "SWHardeningNeeded"
  | "ConfigurationNeeded"
  | "ConfigurationAndSWHardeningNeeded"
  | "OutOfDate"
  | "OutOfDateConfigurationNeeded"
  | "Revoked";

const STATUSES: ReadonlySet<string> = new Set([
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
]);

/** One platform TCB level of a TCB info document. */
export interface TcbLevel {
  /** SGX TCB component SVNs (16). */
  sgxComponents: number[];
  /** PCESVN. */
  pceSvn: number;
  /** TDX TCB component SVNs (16), TDX TCB info only. */
  tdxComponents?: number[];
  /** tcbDate (epoch ms). */
  tcbDate: number;
  /** Status of this level. */
  status: TcbStatus;
  /** Advisory ids (INTEL-SA-…). */
  advisoryIds: string[];
}

/** One enclave/module TCB level keyed by ISVSVN. */
export interface IsvTcbLevel {
  /** Minimum ISVSVN for this level. */
  isvSvn: number;
  /** tcbDate (epoch ms). */
  tcbDate: number;
  /** Status of this level. */
  status: TcbStatus;
  /** Advisory ids. */
  advisoryIds: string[];
}

/** A TDX module identity (`tdxModule` or an entry of `tdxModuleIdentities`). */
export interface TdxModuleIdentity {
  /** `TDX_01`, `TDX_03`, … (`""` for the legacy `tdxModule`). */
  id: string;
  /** Expected MRSIGNERSEAM (48). */
  mrSigner: Uint8Array;
  /** Expected SEAMATTRIBUTES (8). */
  attributes: Uint8Array;
  /** SEAMATTRIBUTES mask (8). */
  attributesMask: Uint8Array;
  /** Module TCB levels (empty for the legacy `tdxModule`). */
  tcbLevels: IsvTcbLevel[];
}

/** A decoded TCB info document. */
export interface TcbInfo {
  /** `SGX` or `TDX`. */
  id: "SGX" | "TDX";
  /** Format version (2 or 3). */
  version: number;
  /** issueDate (epoch ms). */
  issueDate: number;
  /** nextUpdate (epoch ms). */
  nextUpdate: number;
  /** FMSPC, lowercase hex. */
  fmspc: string;
  /** PCE id, lowercase hex. */
  pceId: string;
  /** TCB evaluation data number. */
  tcbEvaluationDataNumber: number;
  /** Legacy TDX module identity. */
  tdxModule?: TdxModuleIdentity;
  /** TDX module identities by major version. */
  tdxModuleIdentities: TdxModuleIdentity[];
  /** Platform TCB levels, newest first. */
  tcbLevels: TcbLevel[];
}

/** A decoded QE identity document. */
export interface QeIdentity {
  /** `QE`, `TD_QE` or `QVE`. */
  id: string;
  /** Format version (2). */
  version: number;
  /** issueDate (epoch ms). */
  issueDate: number;
  /** nextUpdate (epoch ms). */
  nextUpdate: number;
  /** MISCSELECT (4 bytes, report byte order). */
  miscSelect: Uint8Array;
  /** MISCSELECT mask. */
  miscSelectMask: Uint8Array;
  /** ATTRIBUTES (16). */
  attributes: Uint8Array;
  /** ATTRIBUTES mask (16). */
  attributesMask: Uint8Array;
  /** Expected MRSIGNER (32). */
  mrSigner: Uint8Array;
  /** Expected ISVPRODID. */
  isvProdId: number;
  /** QE TCB levels, highest ISVSVN first. */
  tcbLevels: IsvTcbLevel[];
}

type Obj = Record<string, unknown>;

function fail(what: string): never {
  throw new CollateralFormatError(what);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Obj;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v;
}

function int(v: unknown, what: string, max = 0xffffffff): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    fail(`${what} must be an integer in 0..${max}`);
  }
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") fail(`${what} must be a string`);
  return v;
}

function hex(v: unknown, what: string, len: number): Uint8Array {
  const s = str(v, what);
  if (s.length !== len * 2) fail(`${what} must be ${len} bytes of hex`);
  try {
    return fromHex(s);
  } catch {
    fail(`${what} is not hex`);
  }
}

function date(v: unknown, what: string): number {
  const s = str(v, what);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s)) fail(`${what} is not an ISO date`);
  const t = Date.parse(s);
  if (Number.isNaN(t)) fail(`${what} is not a valid date`);
  return t;
}

function status(v: unknown, what: string): TcbStatus {
  const s = str(v, what);
  if (!STATUSES.has(s)) fail(`${what} has unknown status ${s}`);
  return s as TcbStatus;
}

function advisories(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  return arr(v, what).map((a, i) => str(a, `${what}[${i}]`));
}

function components(v: unknown, what: string): number[] {
  const list = arr(v, what);
  if (list.length !== 16) fail(`${what} must have 16 entries`);
  return list.map((c, i) => int(obj(c, `${what}[${i}]`).svn, `${what}[${i}].svn`, 255));
}

function isvLevels(v: unknown, what: string): IsvTcbLevel[] {
  return arr(v, what).map((l, i) => {
    const level = obj(l, `${what}[${i}]`);
    const tcb = obj(level.tcb, `${what}[${i}].tcb`);
    return {
      isvSvn: int(tcb.isvsvn, `${what}[${i}].tcb.isvsvn`, 0xffff),
      tcbDate: date(level.tcbDate, `${what}[${i}].tcbDate`),
      status: status(level.tcbStatus, `${what}[${i}].tcbStatus`),
      advisoryIds: advisories(level.advisoryIDs, `${what}[${i}].advisoryIDs`),
    };
  });
}

function moduleIdentity(v: unknown, what: string, id: string): TdxModuleIdentity {
  const m = obj(v, what);
  return {
    id,
    mrSigner: hex(m.mrsigner, `${what}.mrsigner`, 48),
    attributes: hex(m.attributes, `${what}.attributes`, 8),
    attributesMask: hex(m.attributesMask, `${what}.attributesMask`, 8),
    tcbLevels: m.tcbLevels === undefined ? [] : isvLevels(m.tcbLevels, `${what}.tcbLevels`),
  };
}

function parseJson(text: string, what: string): Obj {
  try {
    return obj(JSON.parse(text), what);
  } catch (e) {
    if (e instanceof CollateralFormatError) throw e;
    fail(`${what} is not JSON`);
  }
}

/** Decodes the signed text of a TCB info object (`tcbInfo`, version 2 or 3). */
export function parseTcbInfo(text: string): TcbInfo {
  const t = parseJson(text, "tcbInfo");
  const id = str(t.id ?? "SGX", "tcbInfo.id");
  if (id !== "SGX" && id !== "TDX") fail(`tcbInfo.id ${id} is unknown`);
  const version = int(t.version, "tcbInfo.version", 100);
  if (version !== 2 && version !== 3) fail(`tcbInfo.version ${version} is unsupported`);
  const levels = arr(t.tcbLevels, "tcbInfo.tcbLevels").map((l, i): TcbLevel => {
    const what = `tcbInfo.tcbLevels[${i}]`;
    const level = obj(l, what);
    const tcb = obj(level.tcb, `${what}.tcb`);
    let sgxComponents: number[];
    let tdxComponents: number[] | undefined;
    if (version === 2) {
      sgxComponents = Array.from(
        { length: 16 },
        (_, k) => {
          const key = `sgxtcbcomp${String(k + 1).padStart(2, "0")}svn`;
          return int(tcb[key], `${what}.tcb.${key}`, 255);
        },
      );
    } else {
      sgxComponents = components(tcb.sgxtcbcomponents, `${what}.tcb.sgxtcbcomponents`);
      if (id === "TDX") {
        tdxComponents = components(tcb.tdxtcbcomponents, `${what}.tcb.tdxtcbcomponents`);
      }
    }
    return {
      sgxComponents,
      pceSvn: int(tcb.pcesvn, `${what}.tcb.pcesvn`, 0xffff),
      tdxComponents,
      tcbDate: date(level.tcbDate, `${what}.tcbDate`),
      status: status(level.tcbStatus, `${what}.tcbStatus`),
      advisoryIds: advisories(level.advisoryIDs, `${what}.advisoryIDs`),
    };
  });
  const identities = t.tdxModuleIdentities === undefined
    ? []
    : arr(t.tdxModuleIdentities, "tcbInfo.tdxModuleIdentities").map((m, i) => {
      const what = `tcbInfo.tdxModuleIdentities[${i}]`;
      return moduleIdentity(m, what, str(obj(m, what).id, `${what}.id`));
    });
  return {
    id,
    version,
    issueDate: date(t.issueDate, "tcbInfo.issueDate"),
    nextUpdate: date(t.nextUpdate, "tcbInfo.nextUpdate"),
    fmspc: hex(t.fmspc, "tcbInfo.fmspc", 6) && str(t.fmspc, "").toLowerCase(),
    pceId: hex(t.pceId, "tcbInfo.pceId", 2) && str(t.pceId, "").toLowerCase(),
    tcbEvaluationDataNumber: int(t.tcbEvaluationDataNumber ?? 0, "tcbInfo.tcbEvaluationDataNumber"),
    tdxModule: t.tdxModule === undefined
      ? undefined
      : moduleIdentity(t.tdxModule, "tcbInfo.tdxModule", ""),
    tdxModuleIdentities: identities,
    tcbLevels: levels,
  };
}

/** Decodes the signed text of an enclave identity object (`enclaveIdentity`, version 2). */
export function parseQeIdentity(text: string): QeIdentity {
  const q = parseJson(text, "enclaveIdentity");
  const version = int(q.version, "enclaveIdentity.version", 100);
  if (version !== 2) fail(`enclaveIdentity.version ${version} is unsupported`);
  return {
    id: str(q.id, "enclaveIdentity.id"),
    version,
    issueDate: date(q.issueDate, "enclaveIdentity.issueDate"),
    nextUpdate: date(q.nextUpdate, "enclaveIdentity.nextUpdate"),
    miscSelect: hex(q.miscselect, "enclaveIdentity.miscselect", 4),
    miscSelectMask: hex(q.miscselectMask, "enclaveIdentity.miscselectMask", 4),
    attributes: hex(q.attributes, "enclaveIdentity.attributes", 16),
    attributesMask: hex(q.attributesMask, "enclaveIdentity.attributesMask", 16),
    mrSigner: hex(q.mrsigner, "enclaveIdentity.mrsigner", 32),
    isvProdId: int(q.isvprodid, "enclaveIdentity.isvprodid", 0xffff),
    tcbLevels: isvLevels(q.tcbLevels, "enclaveIdentity.tcbLevels"),
  };
}

/** Decodes a hex-or-bytes collateral field. */
export function collateralBytes(v: string | Uint8Array, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v !== "string") fail(`${what} must be hex text or bytes`);
  try {
    return fromHex(v);
  } catch {
    fail(`${what} is not hex`);
  }
}
