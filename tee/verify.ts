/**
 * Full Intel DCAP quote verification (Intel QVL algorithm, steps 4.1.2.4.x):
 * signatures, PCK chain to the pinned Intel SGX Root CA, CRLs, TCB info and
 * QE identity, TDX module identity, TCB level selection and status
 * convergence. Verified collateral and PCK chains are cached, so a repeated
 * verification costs only the quote's own signature checks.
 *
 * @module
 */
import { equalBytes, latin1, toHex } from "@mosaik/transport";
import { sha256 } from "@noble/hashes/sha2.js";
import { uncompressed, verifyP256 } from "./_crypto.ts";
import {
  type Collateral,
  collateralBytes,
  parseQeIdentity,
  parseTcbInfo,
  type QeIdentity,
  type TcbInfo,
} from "./collateral.ts";
import {
  CollateralFormatError,
  DerError,
  QuoteVerificationError,
  type VerificationFailure,
} from "./errors.ts";
import { parseQuote, type Quote } from "./quote.ts";
import { INTEL_SGX_ROOT_CA_DER } from "./root.ts";
import { type Certificate, OID_ECDSA_SHA256, parseCertificate, parsePemChain } from "./x509.ts";
import { type Crl, parseCrl } from "./crl.ts";
import { type PckExtensions, pckExtensionsOf } from "./pck_extensions.ts";
import { checkPolicy, type QuotePolicy } from "./policy.ts";
import { evaluateTcb, type TcbEvaluation } from "./_tcb.ts";

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

function fail(code: VerificationFailure, message: string): never {
  throw new QuoteVerificationError(code, message);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

interface Window {
  from: number;
  until: number;
}

function narrow(w: Window, from: number, until: number): void {
  if (from > w.from) w.from = from;
  if (until < w.until) w.until = until;
}

function wrapFormat<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw new CollateralFormatError(`${what}: ${e.message}`);
    throw e;
  }
}

interface CollateralEntry {
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  rootCrl: Crl;
  pckCrl: Crl;
  window: Window;
  /** PCK CRL signature checked against intermediate keys (latin1 point → ok). */
  pckCrlSigners: Map<string, boolean>;
}

/** Cache bounds: collateral sets (one per FMSPC/TEE), PCK chains (one per platform). */
const COLLATERAL_MAX = 64;
const CHAINS_MAX = 4096;

/** Critical extensions we understand (RFC 5280 §4.2: reject any other critical one). */
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([
  "2.5.29.19", // basicConstraints
  "2.5.29.15", // keyUsage
]);

const FIELDS = [
  "pck_crl_issuer_chain",
  "root_ca_crl",
  "pck_crl",
  "tcb_info_issuer_chain",
  "tcb_info",
  "tcb_info_signature",
  "qe_identity_issuer_chain",
  "qe_identity",
  "qe_identity_signature",
] as const;

function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/**
 * A DCAP verifier bound to one trust anchor, holding caches of verified
 * collateral (until it expires) and verified PCK chains (by their bytes).
 * {@linkcode verifyQuote} uses a shared instance per trust anchor.
 */
export class QuoteVerifier {
  readonly #root: Certificate;
  readonly #collateral = new Map<string, CollateralEntry>();
  readonly #byObject = new WeakMap<
    Collateral,
    { key: string; fields: unknown[]; entry: CollateralEntry }
  >();
  readonly #chains = new Map<string, Window>();
  readonly #verified = new Map<string, Promise<boolean>>();
  readonly #stats = { collateralHits: 0, chainHits: 0 };

  /**
   * How often a verification reused a verified collateral set or PCK chain
   * instead of checking it again (a copy).
   */
  get cacheStats(): { collateralHits: number; chainHits: number } {
    return { ...this.#stats };
  }

  /** Creates a verifier; `trustedRoot` defaults to the pinned Intel SGX Root CA. */
  constructor(trustedRoot: Uint8Array | string = INTEL_SGX_ROOT_CA_DER) {
    this.#root = wrapFormat(
      "trusted root",
      () =>
        typeof trustedRoot === "string"
          ? parsePemChain(trustedRoot)[0]
          : parseCertificate(trustedRoot),
    );
  }

  /** Signature of `cert` by `issuerKey`, memoized per verifier (certificates repeat). */
  #certSignature(cert: Certificate, issuerKey: Uint8Array): Promise<boolean> {
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
  #chain(certs: Certificate[], t: number, what: string, w: Window, checks: Checks): void {
    const root = this.#root;
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
        this.#certSignature(cert, issuer.publicKey),
        "certificate_chain",
        `${what}: signature of "${cert.commonName}" does not verify`,
      );
    }
  }

  #crl(crl: Crl, issuer: Certificate, t: number, what: string, w: Window, checks: Checks): void {
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

  #signedDocument(
    chainPem: string,
    text: string,
    signatureField: string | Uint8Array,
    rootCrl: Crl,
    t: number,
    what: "tcb_info" | "qe_identity",
    w: Window,
    checks: Checks,
  ): void {
    const certs = wrapFormat(`${what} issuer chain`, () => parsePemChain(chainPem));
    if (certs.length !== 2) {
      fail(what, `issuer chain must have 2 certificates, has ${certs.length}`);
    }
    this.#chain(certs, t, `${what} issuer chain`, w, checks);
    if (rootCrl.revokedSerials.has(certs[0].serial)) fail("revoked", `${what} signer is revoked`);
    const signature = collateralBytes(signatureField, `${what}_signature`);
    checks.add(
      signature.length === 64
        ? verifyP256(certs[0].publicKey, signature, new TextEncoder().encode(text))
        : Promise.resolve(false),
      what,
      "signature over the document does not verify",
    );
  }

  async #collateralEntry(c: Collateral, t: number): Promise<CollateralEntry> {
    if (typeof c !== "object" || c === null) {
      throw new CollateralFormatError("collateral must be an object");
    }
    // Fast path: the same collateral object with the very same field values
    // (string identity/equality; byte fields are always re-keyed by content).
    const fields = FIELDS.map((f) => c[f]);
    let cached = this.#byObject.get(c);
    if (cached && !fields.every((v, i) => typeof v === "string" && v === cached!.fields[i])) {
      cached = undefined;
    }
    if (!cached) checkShape(c);
    const key = cached?.key ??
      fields.map((v) => typeof v === "string" ? v : toHex(v as Uint8Array)).join("\u0000");
    const hit = cached?.entry ?? this.#collateral.get(key);
    if (hit && t >= hit.window.from && t <= hit.window.until) {
      if (!cached) this.#byObject.set(c, { key, fields, entry: hit });
      this.#stats.collateralHits++;
      return hit;
    }
    const entry = await this.#verifyCollateral(c, t);
    remember(this.#collateral, key, entry, COLLATERAL_MAX);
    this.#byObject.set(c, { key, fields, entry });
    return entry;
  }

  async #verifyCollateral(c: Collateral, t: number): Promise<CollateralEntry> {
    const w: Window = { from: -Infinity, until: Infinity };
    const checks = new Checks();
    const root = this.#root;
    if (t < root.notBefore || t > root.notAfter) {
      fail("certificate_expired", "trusted root is not valid now");
    }
    narrow(w, root.notBefore, root.notAfter);
    // Root CA CRL: issued and signed by the root, current.
    const rootCrl = wrapFormat(
      "root CA CRL",
      () => parseCrl(collateralBytes(c.root_ca_crl, "root_ca_crl")),
    );
    this.#crl(rootCrl, root, t, "root CA CRL", w, checks);
    // TCB info and QE identity: signer chain, signature, validity.
    this.#signedDocument(
      c.tcb_info_issuer_chain,
      c.tcb_info,
      c.tcb_info_signature,
      rootCrl,
      t,
      "tcb_info",
      w,
      checks,
    );
    this.#signedDocument(
      c.qe_identity_issuer_chain,
      c.qe_identity,
      c.qe_identity_signature,
      rootCrl,
      t,
      "qe_identity",
      w,
      checks,
    );
    // PCK CRL: its issuer chain to the root, then the CRL itself.
    const crlChain = wrapFormat(
      "PCK CRL issuer chain",
      () => parsePemChain(c.pck_crl_issuer_chain),
    );
    if (crlChain.length !== 2) {
      fail("crl", `PCK CRL issuer chain must have 2 certificates, has ${crlChain.length}`);
    }
    this.#chain(crlChain, t, "PCK CRL issuer chain", w, checks);
    if (rootCrl.revokedSerials.has(crlChain[0].serial)) {
      fail("revoked", "PCK CRL issuer is revoked");
    }
    const pckCrl = wrapFormat("PCK CRL", () => parseCrl(collateralBytes(c.pck_crl, "pck_crl")));
    this.#crl(pckCrl, crlChain[0], t, "PCK CRL", w, checks);
    // Every signature above is checked concurrently; the first failure in order wins.
    await checks.settle();
    // The documents are decoded only once their signatures verified.
    const tcbInfo = parseTcbInfo(c.tcb_info);
    if (t < tcbInfo.issueDate || t > tcbInfo.nextUpdate) {
      fail(
        "collateral_expired",
        `TCB info is valid ${iso(tcbInfo.issueDate)}..${iso(tcbInfo.nextUpdate)}, not at ${iso(t)}`,
      );
    }
    narrow(w, tcbInfo.issueDate, tcbInfo.nextUpdate);
    const qeIdentity = parseQeIdentity(c.qe_identity);
    if (t < qeIdentity.issueDate || t > qeIdentity.nextUpdate) {
      fail(
        "collateral_expired",
        `QE identity is valid ${iso(qeIdentity.issueDate)}..${iso(qeIdentity.nextUpdate)}, not at ${
          iso(t)
        }`,
      );
    }
    narrow(w, qeIdentity.issueDate, qeIdentity.nextUpdate);
    const pckCrlSigners = new Map<string, boolean>([[latin1(crlChain[0].publicKey), true]]);
    return { tcbInfo, qeIdentity, rootCrl, pckCrl, window: w, pckCrlSigners };
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
      this.#stats.chainHits++;
      return hit;
    }
    const window: Window = { from: -Infinity, until: Infinity };
    const checks = new Checks();
    this.#chain(certs, t, "PCK chain", window, checks);
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
    const [qeOk, quoteOk] = await Promise.all([
      verifyP256(leaf.publicKey, s.qeReportSignature, s.qeReport.raw),
      verifyP256(uncompressed(s.attestationKey), s.signature, quote.signedRegion),
    ]);
    if (!qeOk) fail("qe_report_signature", "QE report is not signed by the PCK key");
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
      this.#collateralEntry(collateral, t),
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

/** Signature checks started together and judged in order, so the reported failure is deterministic. */
class Checks {
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

function timeOf(now: Date | number): number {
  const t = +now;
  if (!Number.isFinite(t)) throw new TypeError("options.now must be a valid time");
  return t;
}

function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === "rejected") throw result.reason;
  return result.value;
}

function checkShape(c: Collateral): void {
  const text = [
    "pck_crl_issuer_chain",
    "tcb_info_issuer_chain",
    "tcb_info",
    "qe_identity_issuer_chain",
    "qe_identity",
  ] as const;
  for (const f of text) {
    if (typeof c[f] !== "string") throw new CollateralFormatError(`${f} must be a string`);
  }
  const bin = ["root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"] as const;
  for (const f of bin) {
    if (typeof c[f] !== "string" && !(c[f] instanceof Uint8Array)) {
      throw new CollateralFormatError(`${f} must be hex text or bytes`);
    }
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
