/**
 * Strict X.509 certificate and PEM parsing for the Intel SGX PCK
 * certificate hierarchy (ECDSA P-256 with SHA-256), including Intel's SGX
 * extension (OID 1.2.840.113741.1.13.1).
 *
 * @module
 */
import { latin1, toHex } from "@mosaik/transport";
import {
  bitString,
  ecdsaSignatureToRaw,
  expect,
  smallInteger,
  Tag,
  unsignedInteger,
} from "./_der.ts";
import { DerError } from "./errors.ts";
import {
  algorithm,
  basicConstraintsCa,
  extensions,
  field,
  name,
  OID_BASIC_CONSTRAINTS,
  publicKeyInfo,
  signed,
  validity,
} from "./_x509_fields.ts";

/** OID of ecdsa-with-SHA256. */
export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
/** OID of Intel's SGX extension in PCK certificates. */
export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";

/** One certificate extension. */
export interface Extension {
  /** Dotted OID. */
  oid: string;
  /** The critical flag. */
  critical: boolean;
  /** The extnValue contents (the bytes inside the OCTET STRING). */
  value: Uint8Array;
}

/** A parsed X.509 certificate. Byte fields are views into `der`. */
export interface Certificate {
  /** The whole certificate. */
  der: Uint8Array;
  /** The signed `tbsCertificate` bytes. */
  tbs: Uint8Array;
  /** Serial number as lowercase hex without leading zero bytes. */
  serial: string;
  /** Raw DER of the issuer Name (compared byte-wise). */
  issuerRaw: Uint8Array;
  /** Raw DER of the subject Name. */
  subjectRaw: Uint8Array;
  /** Issuer in RFC 4514 order, e.g. `C=US,...,CN=Intel SGX Root CA`. */
  issuer: string;
  /** Subject in RFC 4514 order. */
  subject: string;
  /** Subject common name, or `""`. */
  commonName: string;
  /** Start of the validity period (epoch ms). */
  notBefore: number;
  /** End of the validity period (epoch ms). */
  notAfter: number;
  /** Uncompressed P-256 public key `04‖x‖y` (65 bytes). */
  publicKey: Uint8Array;
  /** Signature algorithm OID (ecdsa-with-SHA256 for every Intel certificate). */
  signatureAlgorithm: string;
  /** Signature as raw 64-byte r‖s. */
  signature: Uint8Array;
  /** True when basicConstraints says cA. */
  isCa: boolean;
  /** All extensions in order. */
  extensions: Extension[];
}

/** Parses one DER certificate; throws {@linkcode DerError} on any malformed byte. */
export function parseCertificate(der: Uint8Array): Certificate {
  const s = signed(der, "certificate");
  const { tbs: tbsTlv, fields: parts, sigAlg, sigVal } = s;
  let i = 0;
  if (parts[0]?.tag === 0xa0) {
    const v = expect(der, parts[0].start, parts[0].end, Tag.INTEGER);
    if (v.end !== parts[0].end || smallInteger(der, v, 2) !== 2) {
      throw new DerError("only X.509 v3 certificates are supported", v.at);
    }
    i = 1;
  } else throw new DerError("only X.509 v3 certificates are supported", parts[0]?.at ?? tbsTlv.at);
  const need = (k: number) => field(s, i, k, "tbsCertificate");
  const serialTlv = need(0);
  if (serialTlv.end - serialTlv.start > 21) throw new DerError("serial too long", serialTlv.at);
  const serial = toHex(unsignedInteger(der, serialTlv));
  const innerAlg = algorithm(der, need(1));
  const issuerTlv = need(2);
  const issuer = name(der, issuerTlv);
  const [notBefore, notAfter] = validity(der, need(3));
  const subjectTlv = need(4);
  const subject = name(der, subjectTlv);
  const publicKey = publicKeyInfo(der, need(5));
  let exts: Extension[] = [];
  for (const p of parts.slice(i + 6)) {
    if (p.tag === 0xa3) exts = extensions(der, p);
    else if (p.tag !== 0x81 && p.tag !== 0x82) {
      throw new DerError("unexpected tbsCertificate field", p.at);
    }
  }
  const outerAlg = algorithm(der, sigAlg);
  if (outerAlg !== innerAlg) throw new DerError("signature algorithm mismatch", sigAlg.at);
  const sigBytes = bitString(der, sigVal);
  const sigOffset = sigVal.start + 1;
  let signature: Uint8Array;
  try {
    signature = ecdsaSignatureToRaw(sigBytes);
  } catch (e) {
    throw e instanceof DerError
      ? new DerError(e.message.replace(/ \(at DER offset \d+\)$/, ""), sigOffset + e.offset)
      : e;
  }
  return {
    der,
    tbs: der.subarray(tbsTlv.at, tbsTlv.end),
    serial,
    issuerRaw: der.subarray(issuerTlv.at, issuerTlv.end),
    subjectRaw: der.subarray(subjectTlv.at, subjectTlv.end),
    issuer: issuer.text,
    subject: subject.text,
    commonName: subject.cn,
    notBefore,
    notAfter,
    publicKey,
    signatureAlgorithm: outerAlg,
    signature,
    isCa: basicConstraintsCa(exts.find((e) => e.oid === OID_BASIC_CONSTRAINTS)),
    extensions: exts,
  };
}

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
const PEM_END = "-----END CERTIFICATE-----";

/**
 * Splits PEM text (or bytes) into DER certificates. Only whitespace may sit
 * between blocks; trailing NUL bytes (as in quote certification data) are
 * accepted. Throws {@linkcode DerError} with the PEM text offset.
 */
export function pemToDer(pem: string | Uint8Array): Uint8Array[] {
  let text = typeof pem === "string" ? pem : latin1(pem);
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0) end--;
  text = text.slice(0, end);
  const out: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && /\s/.test(text[at])) at++;
    if (at === text.length) break;
    if (!text.startsWith(PEM_BEGIN, at)) throw new DerError("expected PEM BEGIN CERTIFICATE", at);
    const bodyStart = at + PEM_BEGIN.length;
    const stop = text.indexOf(PEM_END, bodyStart);
    if (stop < 0) throw new DerError("missing PEM END CERTIFICATE", bodyStart);
    let der: Uint8Array;
    try {
      // Strict padding; ASCII whitespace (PEM line breaks) is skipped.
      der = Uint8Array.fromBase64(text.slice(bodyStart, stop), { lastChunkHandling: "strict" });
    } catch {
      throw new DerError("invalid base64 in PEM", bodyStart);
    }
    if (der.length === 0) throw new DerError("empty PEM block", bodyStart);
    out.push(der);
    at = stop + PEM_END.length;
  }
  if (out.length === 0) throw new DerError("no certificate in PEM", 0);
  return out;
}

/** Parses every certificate of a PEM chain. */
export function parsePemChain(pem: string | Uint8Array): Certificate[] {
  return pemToDer(pem).map(parseCertificate);
}
