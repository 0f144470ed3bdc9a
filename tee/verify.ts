/**
 * Full Intel DCAP quote verification (Intel QVL algorithm, steps 4.1.2.4.x):
 * signatures, PCK chain to the pinned Intel SGX Root CA, CRLs, TCB info and
 * QE identity, TDX module identity, TCB level selection and status
 * convergence. Verified collateral, PCK chains and QE report signatures are
 * cached, so a repeated verification (or a new quote of a known platform)
 * costs only the quote's own signature check.
 *
 * @module
 */
import { equalBytes, latin1, remember } from "@mosaik/transport";
import { sha256 } from "@noble/hashes/sha2.js";
import { uncompressed, verifyP256 } from "./_crypto.ts";
import { type Collateral } from "./collateral.ts";
import { CollateralFormatError } from "./errors.ts";
import { parseQuote, type Quote } from "./quote.ts";
import { INTEL_SGX_ROOT_CA_DER } from "./root.ts";
import { type Certificate, parseCertificate, parsePemChain } from "./x509.ts";
import { type PckExtensions, pckExtensionsOf } from "./pck_extensions.ts";
import { checkPolicy, type QuotePolicy } from "./policy.ts";
import { evaluateTcb, type TcbEvaluation } from "./_tcb.ts";
import {
  CHAINS_MAX,
  Checks,
  fail,
  QE_REPORTS_MAX,
  settled,
  timeOf,
  TrustAnchor,
  type Window,
  wrapFormat,
} from "./_trust.ts";
import { CollateralCache } from "./_collateral_check.ts";

export type { TcbEvaluation, VerifiedStatus } from "./_tcb.ts";

/** The outcome of {@linkcode verifyQuote}. */
export interface Verdict extends TcbEvaluation {
  /** The parsed quote. */
  quote: Quote;
  /** The PCK leaf's SGX extension (FMSPC, PCEID, TCB components, …). */
  pck: PckExtensions;
  /** Earliest expiry of anything this verdict relied on (epoch ms): re-verify after it. */
  expiresAt: number;
}

/** The outcome of {@linkcode verifyQuoteSignatures} (no collateral: no TCB status, no revocation). */
export interface SignatureVerdict {
  /** The parsed quote. */
  quote: Quote;
  /** The PCK leaf's SGX extension. */
  pck: PckExtensions;
  /** Earliest expiry of the PCK chain (epoch ms). */
  expiresAt: number;
}

/** Options of {@linkcode verifyQuote}. */
export interface VerifyOptions {
  /** The verification time. */
  now: Date | number;
  /** A policy to apply to the verdict (see {@linkcode checkPolicy}). */
  policy?: QuotePolicy;
  /** When the quote was produced, for `policy.maxAge`. */
  quotedAt?: Date | number;
  /**
   * Trust anchor, DER or PEM. Defaults to the pinned Intel SGX Root CA; pass
   * a test root only in tests.
   */
  trustedRoot?: Uint8Array | string;
}

/**
 * A DCAP verifier bound to one trust anchor, holding caches of verified
 * collateral (until it expires), verified PCK chains (by their bytes) and
 * valid QE report signatures. {@linkcode verifyQuote} uses a shared
 * instance per trust anchor.
 */
export class QuoteVerifier {
  readonly #trust: TrustAnchor;
  readonly #collateral: CollateralCache;
  readonly #chains = new Map<string, Window>();
  #chainHits = 0;
  /**
   * QE report signatures found valid, by PCK key, signature and report: a
   * platform's quotes all carry the same QE report (until its attestation
   * key changes), so each further quote of it costs one P-256 check, not two.
   */
  readonly #qeReports = new Map<string, true>();
  #qeReportHits = 0;

  /**
   * How often a verification reused a verified collateral set, PCK chain or
   * QE report signature instead of checking it again (a copy).
   */
  get cacheStats(): { collateralHits: number; chainHits: number; qeReportHits: number } {
    return {
      collateralHits: this.#collateral.hits,
      chainHits: this.#chainHits,
      qeReportHits: this.#qeReportHits,
    };
  }

  /** Creates a verifier; `trustedRoot` defaults to the pinned Intel SGX Root CA. */
  constructor(trustedRoot: Uint8Array | string = INTEL_SGX_ROOT_CA_DER) {
    this.#trust = new TrustAnchor(wrapFormat(
      "trusted root",
      () =>
        typeof trustedRoot === "string"
          ? parsePemChain(trustedRoot)[0]
          : parseCertificate(trustedRoot),
    ));
    this.#collateral = new CollateralCache(this.#trust);
  }

  /**
   * The PCK chain, checked for shape but not yet verified: from the quote
   * (certification data type 5) or, for types 1–4, from `external` (PEM,
   * e.g. fetched from PCS/PCCS by the platform identity the quote carries).
   */
  #pckCertificates(
    quote: Quote,
    external: string | undefined,
  ): { certs: Certificate[]; pck: PckExtensions; key: string } {
    const cd = quote.signatureData.certification;
    let certs: Certificate[];
    let key: string;
    if (cd.type === 5) {
      certs = cd.certificates;
      key = latin1(cd.data);
    } else if (external !== undefined) {
      if (typeof external !== "string") {
        throw new CollateralFormatError("pck_certificate_chain must be PEM text");
      }
      certs = wrapFormat("pck_certificate_chain", () => parsePemChain(external));
      key = external;
    } else {
      fail(
        "unsupported",
        `certification data type ${cd.type} needs the PCK certificate chain from elsewhere`,
      );
    }
    if (certs.length !== 3) {
      fail("certificate_chain", `PCK chain must have 3 certificates, has ${certs.length}`);
    }
    if (!certs[0].commonName.includes("SGX PCK Certificate")) {
      fail("certificate_chain", `PCK leaf is "${certs[0].commonName}"`);
    }
    const ca = certs[1].commonName;
    if (!/SGX PCK (Platform|Processor) CA$/.test(ca)) {
      fail("certificate_chain", `PCK intermediate is "${ca}"`);
    }
    const pck = cd.type === 5 ? cd.pck : wrapFormat("PCK leaf", () => pckExtensionsOf(certs[0]));
    if (!pck) fail("certificate_chain", "PCK leaf has no SGX extension");
    if (cd.type !== 5 && cd.platform && cd.platform.pceId !== pck.pceId) {
      fail("certificate_chain", "the PCK certificate is not for the quote's PCE");
    }
    return { certs, pck, key };
  }

  /** Verifies (or recalls) the PCK chain: leaf, PCK CA, root, valid at `t`. */
  async #pckChain(certs: Certificate[], key: string, t: number): Promise<Window> {
    const hit = this.#chains.get(key);
    if (hit && t >= hit.from && t <= hit.until) {
      this.#chainHits++;
      return hit;
    }
    const window: Window = { from: -Infinity, until: Infinity };
    const checks = new Checks();
    this.#trust.chain(certs, t, "PCK chain", window, checks);
    await checks.settle();
    remember(this.#chains, key, window, CHAINS_MAX);
    return window;
  }

  /**
   * Checks the QE report signature (by the PCK leaf key, trusted only once
   * the chain verified), its binding to the attestation key, and the quote
   * signature.
   */
  async #quoteSignatures(quote: Quote, leaf: Certificate): Promise<void> {
    const s = quote.signatureData;
    const qeKey = latin1(leaf.publicKey) + latin1(s.qeReportSignature) + latin1(s.qeReport.raw);
    const qeKnown = this.#qeReports.has(qeKey);
    const [qeOk, quoteOk] = await Promise.all([
      qeKnown || verifyP256(leaf.publicKey, s.qeReportSignature, s.qeReport.raw),
      verifyP256(uncompressed(s.attestationKey), s.signature, quote.signedRegion),
    ]);
    if (!qeOk) fail("qe_report_signature", "QE report is not signed by the PCK key");
    if (qeKnown) this.#qeReportHits++;
    else remember(this.#qeReports, qeKey, true, QE_REPORTS_MAX);
    const h = sha256.create().update(s.attestationKey).update(s.qeAuthData).digest();
    if (!equalBytes(h, s.qeReport.reportData.subarray(0, 32))) {
      fail("qe_report_binding", "QE report data does not bind the attestation key");
    }
    if (!quoteOk) fail("quote_signature", "quote is not signed by the attestation key");
  }

  /**
   * Verifies a quote against collateral at `options.now`; see
   * {@linkcode verifyQuote}.
   */
  async verify(
    bytes: Uint8Array | Quote,
    collateral: Collateral,
    options: VerifyOptions,
  ): Promise<Verdict> {
    const t = timeOf(options.now);
    const quote = bytes instanceof Uint8Array ? parseQuote(bytes) : bytes;
    const { certs, pck, key } = this.#pckCertificates(quote, collateral.pck_certificate_chain);
    const [leaf, ca] = certs;
    // Collateral, PCK chain and the quote's own signatures are checked
    // concurrently; failures are reported in this order.
    const [entryResult, chainResult, signatureResult] = await Promise.allSettled([
      this.#collateral.entry(collateral, t),
      this.#pckChain(certs, key, t),
      this.#quoteSignatures(quote, leaf),
    ]);
    const entry = settled(entryResult);
    const window = settled(chainResult);
    // Revocation (4.1.2.4.6–7): root CRL for the PCK CA, PCK CRL for the leaf.
    if (entry.rootCrl.revokedSerials.has(ca.serial)) {
      fail("revoked", `PCK CA serial ${ca.serial} is revoked`);
    }
    if (!equalBytes(entry.pckCrl.issuerRaw, leaf.issuerRaw)) {
      fail(
        "crl",
        `PCK CRL issuer "${entry.pckCrl.issuer}" is not the PCK leaf issuer "${leaf.issuer}"`,
      );
    }
    const caKey = latin1(ca.publicKey);
    let crlOk = entry.pckCrlSigners.get(caKey);
    if (crlOk === undefined) {
      crlOk = await verifyP256(ca.publicKey, entry.pckCrl.signature, entry.pckCrl.tbs);
      entry.pckCrlSigners.set(caKey, crlOk);
    }
    if (!crlOk) fail("crl", "PCK CRL is not signed by the quote's PCK CA");
    if (entry.pckCrl.revokedSerials.has(leaf.serial)) {
      fail("revoked", `PCK leaf serial ${leaf.serial} is revoked`);
    }
    // QE report (4.1.2.4.12–13) and quote signature (4.1.2.4.16).
    settled(signatureResult);
    // TCB info / QE identity consistency, module identity, TCB levels (4.1.2.4.9–17).
    const tcb = evaluateTcb(quote, pck, entry.tcbInfo, entry.qeIdentity);
    const expiresAt = Math.min(entry.window.until, window.until);
    const verdict: Verdict = { ...tcb, quote, pck, expiresAt };
    if (options.policy) {
      checkPolicy(verdict, options.policy, { now: t, quotedAt: options.quotedAt });
    }
    return verdict;
  }

  /**
   * Checks only what needs no collateral: the PCK chain to the trust anchor at
   * `now`, the QE report signature and binding, and the quote signature.
   */
  async verifySignatures(
    bytes: Uint8Array | Quote,
    options: { now: Date | number; pckCertificateChain?: string },
  ): Promise<SignatureVerdict> {
    const t = timeOf(options.now);
    const quote = bytes instanceof Uint8Array ? parseQuote(bytes) : bytes;
    const { certs, pck, key } = this.#pckCertificates(quote, options.pckCertificateChain);
    const [chainResult, signatureResult] = await Promise.allSettled([
      this.#pckChain(certs, key, t),
      this.#quoteSignatures(quote, certs[0]),
    ]);
    const window = settled(chainResult);
    settled(signatureResult);
    return { quote, pck, expiresAt: window.until };
  }
}

const verifiers = new Map<string, QuoteVerifier>();

function verifierFor(root: Uint8Array | string | undefined): QuoteVerifier {
  const key = root === undefined ? "" : typeof root === "string" ? root : latin1(root);
  let v = verifiers.get(key);
  if (!v) {
    v = new QuoteVerifier(root);
    remember(verifiers, key, v, 8);
  }
  return v;
}

/**
 * Verifies a DCAP quote fully against collateral at `options.now` and
 * returns its {@linkcode Verdict}; applies `options.policy` when given.
 * Throws {@linkcode QuoteVerificationError} (with a `code`) when a check
 * fails, `QuoteParseError` for malformed quotes and `CollateralFormatError`
 * for malformed collateral. A status of `Revoked` is returned, not thrown
 * (policies reject it by default).
 *
 * @example
 * ```ts ignore
 * import { verifyQuote } from "@mosaik/tee";
 * const verdict = await verifyQuote(quoteBytes, collateral, { now: Date.now() });
 * console.log(verdict.status, verdict.advisoryIds);
 * ```
 */
export function verifyQuote(
  bytes: Uint8Array | Quote,
  collateral: Collateral,
  options: VerifyOptions,
): Promise<Verdict> {
  return verifierFor(options.trustedRoot).verify(bytes, collateral, options);
}

/**
 * Verifies what needs no collateral: PCK chain to the trust anchor at `now`,
 * QE report signature and binding, quote signature. No revocation or TCB
 * status: use {@linkcode verifyQuote} for a trust decision.
 */
export function verifyQuoteSignatures(
  bytes: Uint8Array | Quote,
  options: { now: Date | number; trustedRoot?: Uint8Array | string; pckCertificateChain?: string },
): Promise<SignatureVerdict> {
  return verifierFor(options.trustedRoot).verifySignatures(bytes, options);
}
