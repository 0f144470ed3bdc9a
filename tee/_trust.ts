// The trust anchor of DCAP verification and what every check shares:
// certificate chains and CRLs judged against the anchor at a time, the window
// in which a verdict holds, and signature checks started together and judged
// in order.
import { equalBytes, latin1, remember } from "@mosaik/transport";
import { verifyP256 } from "./_crypto.ts";
import {
  CollateralFormatError,
  DerError,
  QuoteVerificationError,
  type VerificationFailure,
} from "./errors.ts";
import { type Certificate, OID_ECDSA_SHA256 } from "./x509.ts";
import type { Crl } from "./crl.ts";

export function fail(code: VerificationFailure, message: string): never {
  throw new QuoteVerificationError(code, message);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface Window {
  from: number;
  until: number;
}

export function narrow(w: Window, from: number, until: number): void {
  if (from > w.from) w.from = from;
  if (until < w.until) w.until = until;
}

export function wrapFormat<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw new CollateralFormatError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Bound of the signature memo (certificates repeat across chains). */
export const CHAINS_MAX = 4096;

/** Valid QE report signatures remembered (each key is about 520 bytes: PCK key, signature, report). */
export const QE_REPORTS_MAX = 1024;

/** Critical extensions we understand (RFC 5280 §4.2: reject any other critical one). */
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([
  "2.5.29.19", // basicConstraints
  "2.5.29.15", // keyUsage
]);

/** Signature checks started together and judged in order, so the reported failure is deterministic. */
export class Checks {
  readonly #items: { ok: Promise<boolean>; code: VerificationFailure; message: string }[] = [];

  add(ok: Promise<boolean>, code: VerificationFailure, message: string): void {
    this.#items.push({ ok, code, message });
  }

  async settle(): Promise<void> {
    const results = await Promise.all(this.#items.map((i) => i.ok));
    const bad = results.indexOf(false);
    if (bad >= 0) fail(this.#items[bad].code, this.#items[bad].message);
  }
}

export function timeOf(now: Date | number): number {
  const t = +now;
  if (!Number.isFinite(t)) throw new TypeError("options.now must be a valid time");
  return t;
}

export function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === "rejected") throw result.reason;
  return result.value;
}

/** A trust anchor and the memo of certificate signatures checked against it. */
export class TrustAnchor {
  readonly root: Certificate;
  readonly #verified = new Map<string, Promise<boolean>>();

  constructor(root: Certificate) {
    this.root = root;
  }

  /** Signature of `cert` by `issuerKey`, memoized per verifier (certificates repeat). */
  certSignature(cert: Certificate, issuerKey: Uint8Array): Promise<boolean> {
    if (cert.signatureAlgorithm !== OID_ECDSA_SHA256) return Promise.resolve(false);
    const key = latin1(issuerKey) + latin1(cert.der);
    let ok = this.#verified.get(key);
    if (!ok) {
      ok = verifyP256(issuerKey, cert.signature, cert.tbs);
      remember(this.#verified, key, ok, CHAINS_MAX);
    }
    return ok;
  }

  /**
   * Checks a certificate chain ending at the trust anchor, valid at `t`; the
   * signature checks are queued on `checks`.
   */
  chain(certs: Certificate[], t: number, what: string, w: Window, checks: Checks): void {
    const root = this.root;
    const last = certs[certs.length - 1];
    if (
      !equalBytes(last.publicKey, root.publicKey) || !equalBytes(last.subjectRaw, root.subjectRaw)
    ) {
      fail("certificate_chain", `${what} does not end at the trusted root`);
    }
    for (let i = 0; i < certs.length; i++) {
      const cert = certs[i];
      if (t < cert.notBefore || t > cert.notAfter) {
        fail(
          "certificate_expired",
          `${what}: "${cert.commonName}" is valid ${iso(cert.notBefore)}..${
            iso(cert.notAfter)
          }, not at ${iso(t)}`,
        );
      }
      narrow(w, cert.notBefore, cert.notAfter);
      const unknown = cert.extensions.find((e) => e.critical && !KNOWN_CRITICAL.has(e.oid));
      if (unknown) {
        fail(
          "certificate_chain",
          `${what}: "${cert.commonName}" has unknown critical extension ${unknown.oid}`,
        );
      }
      const issuer = i + 1 < certs.length ? certs[i + 1] : root;
      if (!equalBytes(cert.issuerRaw, issuer.subjectRaw)) {
        fail(
          "certificate_chain",
          `${what}: "${cert.commonName}" is not issued by "${issuer.commonName}"`,
        );
      }
      if (i + 1 < certs.length && !issuer.isCa) {
        fail("certificate_chain", `${what}: "${issuer.commonName}" is not a CA`);
      }
      // The embedded copy of the anchor itself needs no signature check.
      if (i === certs.length - 1 && equalBytes(cert.der, root.der)) continue;
      checks.add(
        this.certSignature(cert, issuer.publicKey),
        "certificate_chain",
        `${what}: signature of "${cert.commonName}" does not verify`,
      );
    }
  }

  crl(crl: Crl, issuer: Certificate, t: number, what: string, w: Window, checks: Checks): void {
    if (!equalBytes(crl.issuerRaw, issuer.subjectRaw)) {
      fail("crl", `${what} is not issued by "${issuer.commonName}"`);
    }
    if (t < crl.thisUpdate || t > crl.nextUpdate) {
      fail(
        "collateral_expired",
        `${what} is valid ${iso(crl.thisUpdate)}..${iso(crl.nextUpdate)}, not at ${iso(t)}`,
      );
    }
    narrow(w, crl.thisUpdate, crl.nextUpdate);
    checks.add(
      crl.signatureAlgorithm === OID_ECDSA_SHA256
        ? verifyP256(issuer.publicKey, crl.signature, crl.tbs)
        : Promise.resolve(false),
      "crl",
      `${what} signature does not verify`,
    );
  }
}
