/**
 * Appraisal policy on top of a DCAP {@linkcode Verdict}: acceptable TCB
 * statuses, debug and attribute rules, expected measurements and quote age.
 *
 * @module
 */
import { equalBytes, fromHex, remember, toHex } from "@mosaik/transport";
import { PolicyError } from "./errors.ts";
import type { VerifiedStatus } from "./verify.ts";
import type { Verdict } from "./verify.ts";

/** A 48-byte (TDX) or 32-byte (SGX) measurement as hex text or bytes. */
export type Measurement = string | Uint8Array;

/** What a verified quote must satisfy. Every field is optional. */
export interface QuotePolicy {
  /**
   * Acceptable final statuses. Default: every status except `Revoked` (as
   * dcap-qvl). Tighten to e.g. `["UpToDate", "SWHardeningNeeded"]`.
   */
  allowedStatuses?: readonly VerifiedStatus[];
  /** Accept debuggable TDs / enclaves (default `false`). */
  allowDebug?: boolean;
  /** Accept reserved TDATTRIBUTES bits (default `false`). */
  allowReservedTdAttributes?: boolean;
  /** Require TDATTRIBUTES.SEPT_VE_DISABLE (default `false`; dcap-qvl requires it). */
  requireSeptVeDisable?: boolean;
  /** Expected MRTD. */
  mrTd?: Measurement;
  /** Expected RTMR0. */
  rtmr0?: Measurement;
  /** Expected RTMR1. */
  rtmr1?: Measurement;
  /** Expected RTMR2. */
  rtmr2?: Measurement;
  /** Expected RTMR3. */
  rtmr3?: Measurement;
  /** Expected MRSERVICETD (TD 1.5). Without it a non-zero MRSERVICETD is refused unless `allowServiceTd`. */
  mrServiceTd?: Measurement;
  /** Accept any bound service TD (default `false`). */
  allowServiceTd?: boolean;
  /** Expected MRENCLAVE (SGX). */
  mrEnclave?: Measurement;
  /** Expected MRSIGNER (SGX). */
  mrSigner?: Measurement;
  /** Expected REPORTDATA prefix (1–64 bytes). */
  reportData?: Measurement;
  /** Maximum age of the quote in ms, measured from `context.quotedAt`. */
  maxAge?: number;
  /** Oldest acceptable tcbDate of the matched platform TCB level (Intel's TCB recovery date). */
  minTcbDate?: Date | number;
}

/** Context of {@linkcode checkPolicy}. */
export interface PolicyContext {
  /** Current time (default `Date.now()`). */
  now?: Date | number;
  /** When the quote was produced (required when `maxAge` is set). */
  quotedAt?: Date | number;
}

// Hex measurements decoded once: a validator checks the same policy at every
// ticket (five hex measurements cost 9 us to decode each time).
const decoded = new Map<string, Uint8Array>();

function bytes(m: Measurement): Uint8Array {
  if (typeof m !== "string") return m;
  let b = decoded.get(m);
  if (b === undefined) {
    b = fromHex(m);
    if (m.length <= 128) remember(decoded, m, b, 256);
  }
  return b;
}

function same(
  name: string,
  got: Uint8Array,
  want: Measurement | undefined,
  code: "measurement" | "report_data" = "measurement",
): void {
  if (want === undefined) return;
  const w = bytes(want);
  if (!equalBytes(got, w)) {
    throw new PolicyError(code, `${name} is ${toHex(got)}, expected ${toHex(w)}`);
  }
}

/**
 * Throws {@linkcode PolicyError} unless the verdict satisfies `policy`.
 * Call it after `verifyQuote` (or pass `policy` to `verifyQuote`).
 *
 * @example
 * ```ts ignore
 * import { checkPolicy, verifyQuote } from "@mosaik/tee";
 * const verdict = await verifyQuote(quote, collateral, { now: Date.now() });
 * checkPolicy(verdict, { allowedStatuses: ["UpToDate"], mrTd: expectedMrTd });
 * ```
 */
export function checkPolicy(
  verdict: Verdict,
  policy: QuotePolicy,
  context: PolicyContext = {},
): void {
  const allowed = policy.allowedStatuses;
  if (allowed ? !allowed.includes(verdict.status) : verdict.status === "Revoked") {
    throw new PolicyError("status", `TCB status ${verdict.status} is not accepted`);
  }
  const body = verdict.quote.body;
  if (body.kind === "sgx") {
    if (body.attributeFlags.debug && !policy.allowDebug) {
      throw new PolicyError("debug", "the enclave is in debug mode");
    }
    same("MRENCLAVE", body.mrEnclave, policy.mrEnclave);
    same("MRSIGNER", body.mrSigner, policy.mrSigner);
    for (const k of ["mrTd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrServiceTd"] as const) {
      if (policy[k] !== undefined) {
        throw new PolicyError("measurement", `${k} is expected but the quote is SGX`);
      }
    }
  } else {
    const flags = body.tdAttributeFlags;
    if (flags.debug && !policy.allowDebug) {
      throw new PolicyError("debug", "the TD is in debug mode");
    }
    if (flags.reservedBitsSet && !policy.allowReservedTdAttributes) {
      throw new PolicyError("td_attributes", "reserved TDATTRIBUTES bits are set");
    }
    if (!flags.septVeDisable && policy.requireSeptVeDisable) {
      throw new PolicyError("td_attributes", "SEPT_VE_DISABLE is not set");
    }
    same("MRTD", body.mrTd, policy.mrTd);
    same("RTMR0", body.rtmrs[0], policy.rtmr0);
    same("RTMR1", body.rtmrs[1], policy.rtmr1);
    same("RTMR2", body.rtmrs[2], policy.rtmr2);
    same("RTMR3", body.rtmrs[3], policy.rtmr3);
    const service = body.mrServiceTd ?? new Uint8Array(48);
    if (policy.mrServiceTd !== undefined) same("MRSERVICETD", service, policy.mrServiceTd);
    else if (!policy.allowServiceTd && service.some((b) => b !== 0)) {
      throw new PolicyError("service_td", "a service TD is bound (MRSERVICETD is not zero)");
    }
    if (policy.mrEnclave !== undefined || policy.mrSigner !== undefined) {
      throw new PolicyError("measurement", "MRENCLAVE/MRSIGNER are expected but the quote is TDX");
    }
  }
  if (policy.reportData !== undefined) {
    const want = bytes(policy.reportData);
    if (want.length === 0 || want.length > 64) {
      throw new PolicyError("report_data", "expected REPORTDATA must be 1..64 bytes");
    }
    same("REPORTDATA", body.reportData.subarray(0, want.length), want, "report_data");
  }
  if (policy.minTcbDate !== undefined && verdict.tcbDate < +policy.minTcbDate) {
    throw new PolicyError(
      "status",
      `TCB level date ${new Date(verdict.tcbDate).toISOString()} is older than accepted`,
    );
  }
  if (policy.maxAge !== undefined) {
    if (context.quotedAt === undefined) throw new PolicyError("age", "the quote time is unknown");
    const age = +(context.now ?? Date.now()) - +context.quotedAt;
    if (age < 0) throw new PolicyError("age", "the quote is from the future");
    if (age > policy.maxAge) {
      throw new PolicyError("age", `the quote is ${age} ms old (max ${policy.maxAge})`);
    }
  }
}
