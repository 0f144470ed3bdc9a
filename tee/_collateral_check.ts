// Verified collateral sets (root CRL, TCB info, QE identity, PCK CRL and
// their signer chains), checked once against the trust anchor and cached
// until the earliest of their validity windows ends.
import { latin1, remember, toHex } from "@mosaik/transport";
import { verifyP256 } from "./_crypto.ts";
import {
  type Collateral,
  collateralBytes,
  parseQeIdentity,
  parseTcbInfo,
  type QeIdentity,
  type TcbInfo,
} from "./collateral.ts";
import { CollateralFormatError } from "./errors.ts";
import { parsePemChain } from "./x509.ts";
import { type Crl, parseCrl } from "./crl.ts";
import { Checks, fail, iso, narrow, TrustAnchor, type Window, wrapFormat } from "./_trust.ts";

/** A verified collateral set. */
export interface CollateralEntry {
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  rootCrl: Crl;
  pckCrl: Crl;
  window: Window;
  /** PCK CRL signature checked against intermediate keys (latin1 point → ok). */
  pckCrlSigners: Map<string, boolean>;
}

/** Cache bound: collateral sets (one per FMSPC and TEE type). */
export const COLLATERAL_MAX = 64;

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

/** Verified collateral sets of one trust anchor. */
export class CollateralCache {
  readonly #trust: TrustAnchor;
  readonly #collateral = new Map<string, CollateralEntry>();
  readonly #byObject = new WeakMap<
    Collateral,
    { key: string; fields: unknown[]; entry: CollateralEntry }
  >();
  /** Verifications that reused a cached set. */
  hits = 0;

  constructor(trust: TrustAnchor) {
    this.#trust = trust;
  }

  /** The verified set for `c` at `t`, from the cache when it still holds. */
  async entry(c: Collateral, t: number): Promise<CollateralEntry> {
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
      this.hits++;
      return hit;
    }
    const entry = await this.#verify(c, t);
    remember(this.#collateral, key, entry, COLLATERAL_MAX);
    this.#byObject.set(c, { key, fields, entry });
    return entry;
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
    this.#trust.chain(certs, t, `${what} issuer chain`, w, checks);
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

  async #verify(c: Collateral, t: number): Promise<CollateralEntry> {
    const w: Window = { from: -Infinity, until: Infinity };
    const checks = new Checks();
    const root = this.#trust.root;
    if (t < root.notBefore || t > root.notAfter) {
      fail("certificate_expired", "trusted root is not valid now");
    }
    narrow(w, root.notBefore, root.notAfter);
    // Root CA CRL: issued and signed by the root, current.
    const rootCrl = wrapFormat(
      "root CA CRL",
      () => parseCrl(collateralBytes(c.root_ca_crl, "root_ca_crl")),
    );
    this.#trust.crl(rootCrl, root, t, "root CA CRL", w, checks);
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
    this.#trust.chain(crlChain, t, "PCK CRL issuer chain", w, checks);
    if (rootCrl.revokedSerials.has(crlChain[0].serial)) {
      fail("revoked", "PCK CRL issuer is revoked");
    }
    const pckCrl = wrapFormat("PCK CRL", () => parseCrl(collateralBytes(c.pck_crl, "pck_crl")));
    this.#trust.crl(pckCrl, crlChain[0], t, "PCK CRL", w, checks);
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
}
