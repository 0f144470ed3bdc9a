/**
 * Strict X.509 certificate, CRL and PEM parsing for the Intel SGX PCK
 * certificate hierarchy (ECDSA P-256 with SHA-256), including Intel's SGX
 * extension (OID 1.2.840.113741.1.13.1).
 *
 * @module
 */
import { latin1, toHex } from "@mosaik/transport";
import {
  bitString,
  boolean,
  children,
  ecdsaSignatureToRaw,
  expect,
  oid,
  smallInteger,
  Tag,
  time,
  type Tlv,
  unsignedInteger,
} from "./_der.ts";
import { DerError } from "./errors.ts";

/** OID of ecdsa-with-SHA256. */
export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
/** OID of Intel's SGX extension in PCK certificates. */
export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";

const NAME_KEYS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

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

/** One revoked entry of a CRL. */
export interface RevokedCertificate {
  /** Serial as lowercase hex without leading zero bytes. */
  serial: string;
  /** Revocation date (epoch ms). */
  revokedAt: number;
}

/** A parsed certificate revocation list. */
export interface Crl {
  /** The whole CRL. */
  der: Uint8Array;
  /** The signed `tbsCertList` bytes. */
  tbs: Uint8Array;
  /** Raw DER of the issuer Name. */
  issuerRaw: Uint8Array;
  /** Issuer in RFC 4514 order. */
  issuer: string;
  /** thisUpdate (epoch ms). */
  thisUpdate: number;
  /** nextUpdate (epoch ms); required for Intel CRLs. */
  nextUpdate: number;
  /** Revoked serials. */
  revoked: RevokedCertificate[];
  /** Set of revoked serials (hex) for O(1) lookup. */
  revokedSerials: ReadonlySet<string>;
  /** Signature algorithm OID. */
  signatureAlgorithm: string;
  /** Signature as raw 64-byte r‖s. */
  signature: Uint8Array;
}

function algorithm(buf: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== Tag.SEQUENCE) throw new DerError("expected AlgorithmIdentifier", tlv.at);
  const [id, params, extra] = children(buf, tlv);
  if (!id || extra) throw new DerError("bad AlgorithmIdentifier", tlv.at);
  const alg = oid(buf, id);
  if (
    params && !(params.tag === Tag.NULL && params.end === params.start) && params.tag !== Tag.OID
  ) {
    throw new DerError("bad AlgorithmIdentifier parameters", params.at);
  }
  return alg;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes pure-ASCII bytes without a TextDecoder call; `undefined` otherwise. */
function ascii(buf: Uint8Array, start: number, end: number): string | undefined {
  let s = "";
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) return undefined;
    s += String.fromCharCode(buf[i]);
  }
  return s;
}

function name(buf: Uint8Array, tlv: Tlv): { text: string; cn: string } {
  if (tlv.tag !== Tag.SEQUENCE) throw new DerError("expected Name", tlv.at);
  const parts: string[] = [];
  let cn = "";
  for (const rdn of children(buf, tlv)) {
    if (rdn.tag !== Tag.SET) throw new DerError("expected RelativeDistinguishedName", rdn.at);
    for (const atv of children(buf, rdn)) {
      if (atv.tag !== Tag.SEQUENCE) throw new DerError("expected AttributeTypeAndValue", atv.at);
      const [type, value, extra] = children(buf, atv);
      if (!type || !value || extra) throw new DerError("bad AttributeTypeAndValue", atv.at);
      const key = oid(buf, type);
      if (
        value.tag !== Tag.UTF8_STRING && value.tag !== Tag.PRINTABLE_STRING &&
        value.tag !== Tag.IA5_STRING
      ) throw new DerError("unsupported string type in Name", value.at);
      let text: string;
      try {
        text = ascii(buf, value.start, value.end) ??
          UTF8.decode(buf.subarray(value.start, value.end));
      } catch {
        throw new DerError("invalid UTF-8 in Name", value.start);
      }
      if (key === "2.5.4.3") cn = text;
      parts.push(`${NAME_KEYS[key] ?? key}=${text}`);
    }
  }
  return { text: parts.reverse().join(","), cn };
}

function validity(buf: Uint8Array, tlv: Tlv): [number, number] {
  if (tlv.tag !== Tag.SEQUENCE) throw new DerError("expected Validity", tlv.at);
  const [a, b, extra] = children(buf, tlv);
  if (!a || !b || extra) throw new DerError("bad Validity", tlv.at);
  return [time(buf, a), time(buf, b)];
}

function publicKeyInfo(buf: Uint8Array, tlv: Tlv): Uint8Array {
  if (tlv.tag !== Tag.SEQUENCE) throw new DerError("expected SubjectPublicKeyInfo", tlv.at);
  const [alg, key, extra] = children(buf, tlv);
  if (!alg || !key || extra || alg.tag !== Tag.SEQUENCE) {
    throw new DerError("bad SubjectPublicKeyInfo", tlv.at);
  }
  const [algId, curve, more] = children(buf, alg);
  if (!algId || !curve || more) throw new DerError("bad key algorithm", alg.at);
  if (oid(buf, algId) !== OID_EC_PUBLIC_KEY || oid(buf, curve) !== OID_P256) {
    throw new DerError("only ECDSA P-256 keys are supported", alg.at);
  }
  const point = bitString(buf, key);
  if (point.length !== 65 || point[0] !== 4) {
    throw new DerError("expected an uncompressed P-256 point", key.start);
  }
  return point;
}

function extensions(buf: Uint8Array, tlv: Tlv): Extension[] {
  const seq = expect(buf, tlv.start, tlv.end, Tag.SEQUENCE);
  if (seq.end !== tlv.end) throw new DerError("trailing bytes after extensions", seq.end);
  const out: Extension[] = [];
  const seen = new Set<string>();
  for (const ext of children(buf, seq)) {
    if (ext.tag !== Tag.SEQUENCE) throw new DerError("expected Extension", ext.at);
    const parts = children(buf, ext);
    const id = oid(buf, parts[0] ?? ext);
    let i = 1;
    let critical = false;
    if (parts[i]?.tag === Tag.BOOLEAN) {
      critical = boolean(buf, parts[i]);
      if (!critical) throw new DerError("DER forbids an explicit FALSE critical flag", parts[i].at);
      i++;
    }
    const value = parts[i];
    if (!value || value.tag !== Tag.OCTET_STRING || parts.length !== i + 1) {
      throw new DerError("bad Extension", ext.at);
    }
    if (seen.has(id)) throw new DerError(`duplicate extension ${id}`, ext.at);
    seen.add(id);
    out.push({ oid: id, critical, value: buf.subarray(value.start, value.end) });
  }
  return out;
}

function basicConstraintsCa(ext: Extension | undefined): boolean {
  if (!ext) return false;
  const buf = ext.value;
  const seq = expect(buf, 0, buf.length, Tag.SEQUENCE);
  const [first] = children(buf, seq);
  return first?.tag === Tag.BOOLEAN ? boolean(buf, first) : false;
}

/** Parses one DER certificate; throws {@linkcode DerError} on any malformed byte. */
export function parseCertificate(der: Uint8Array): Certificate {
  const top = expect(der, 0, der.length, Tag.SEQUENCE);
  if (top.end !== der.length) throw new DerError("trailing bytes after certificate", top.end);
  const [tbsTlv, sigAlg, sigVal, extra] = children(der, top);
  if (!tbsTlv || !sigAlg || !sigVal || extra || tbsTlv.tag !== Tag.SEQUENCE) {
    throw new DerError("certificate must have three parts", top.at);
  }
  const parts = children(der, tbsTlv);
  let i = 0;
  if (parts[0]?.tag === 0xa0) {
    const v = expect(der, parts[0].start, parts[0].end, Tag.INTEGER);
    if (v.end !== parts[0].end || smallInteger(der, v, 2) !== 2) {
      throw new DerError("only X.509 v3 certificates are supported", v.at);
    }
    i = 1;
  } else throw new DerError("only X.509 v3 certificates are supported", parts[0]?.at ?? tbsTlv.at);
  const need = (k: number) => {
    const p = parts[i + k];
    if (!p) throw new DerError("truncated tbsCertificate", tbsTlv.end);
    return p;
  };
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

/** Parses a DER CRL (v1 or v2); throws {@linkcode DerError} on any malformed byte. */
export function parseCrl(der: Uint8Array): Crl {
  const top = expect(der, 0, der.length, Tag.SEQUENCE);
  if (top.end !== der.length) throw new DerError("trailing bytes after CRL", top.end);
  const [tbsTlv, sigAlg, sigVal, extra] = children(der, top);
  if (!tbsTlv || !sigAlg || !sigVal || extra || tbsTlv.tag !== Tag.SEQUENCE) {
    throw new DerError("CRL must have three parts", top.at);
  }
  const parts = children(der, tbsTlv);
  let i = 0;
  if (parts[0]?.tag === Tag.INTEGER) {
    if (smallInteger(der, parts[0], 1) !== 1) {
      throw new DerError("unsupported CRL version", parts[0].at);
    }
    i = 1;
  }
  const need = (k: number) => {
    const p = parts[i + k];
    if (!p) throw new DerError("truncated tbsCertList", tbsTlv.end);
    return p;
  };
  const innerAlg = algorithm(der, need(0));
  const issuerTlv = need(1);
  const issuer = name(der, issuerTlv);
  const thisUpdate = time(der, need(2));
  const nextTlv = need(3);
  if (nextTlv.tag !== Tag.UTC_TIME && nextTlv.tag !== Tag.GENERALIZED_TIME) {
    throw new DerError("CRL without nextUpdate", nextTlv.at);
  }
  const nextUpdate = time(der, nextTlv);
  const revoked: RevokedCertificate[] = [];
  for (const p of parts.slice(i + 4)) {
    if (p.tag === Tag.SEQUENCE) {
      for (const entry of children(der, p)) {
        if (entry.tag !== Tag.SEQUENCE) throw new DerError("expected revoked entry", entry.at);
        const [serialTlv, dateTlv, entryExts, more] = children(der, entry);
        if (!serialTlv || !dateTlv || more || (entryExts && entryExts.tag !== Tag.SEQUENCE)) {
          throw new DerError("bad revoked entry", entry.at);
        }
        if (serialTlv.end - serialTlv.start > 21) {
          throw new DerError("serial too long", serialTlv.at);
        }
        revoked.push({
          serial: toHex(unsignedInteger(der, serialTlv)),
          revokedAt: time(der, dateTlv),
        });
      }
    } else if (p.tag === 0xa0) {
      extensions(der, p);
    } else throw new DerError("unexpected tbsCertList field", p.at);
  }
  const outerAlg = algorithm(der, sigAlg);
  if (outerAlg !== innerAlg) throw new DerError("signature algorithm mismatch", sigAlg.at);
  const sigBytes = bitString(der, sigVal);
  let signature: Uint8Array;
  try {
    signature = ecdsaSignatureToRaw(sigBytes);
  } catch (e) {
    throw e instanceof DerError
      ? new DerError(e.message.replace(/ \(at DER offset \d+\)$/, ""), sigVal.start + 1 + e.offset)
      : e;
  }
  return {
    der,
    tbs: der.subarray(tbsTlv.at, tbsTlv.end),
    issuerRaw: der.subarray(issuerTlv.at, issuerTlv.end),
    issuer: issuer.text,
    thisUpdate,
    nextUpdate,
    revoked,
    revokedSerials: new Set(revoked.map((r) => r.serial)),
    signatureAlgorithm: outerAlg,
    signature,
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

/** The Intel SGX extension of a PCK certificate, decoded. */
export interface PckExtensions {
  /** PPID (16 bytes). */
  ppid: Uint8Array;
  /** SGX TCB component SVNs 1..16 (index 0 = component 1). */
  sgxTcbComponents: number[];
  /** PCESVN. */
  pceSvn: number;
  /** CPUSVN (16 bytes). */
  cpuSvn: Uint8Array;
  /** PCE-ID (2 bytes, hex). */
  pceId: string;
  /** FMSPC (6 bytes, lowercase hex). */
  fmspc: string;
  /** SGX type: 0 standard, 1 scalable, 2 scalable with integrity. */
  sgxType: number;
  /** Platform instance id (Platform-CA certificates only). */
  platformInstanceId?: Uint8Array;
  /** Platform configuration (Platform-CA certificates only). */
  configuration?: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean };
}

function octets(buf: Uint8Array, tlv: Tlv, len: number): Uint8Array {
  if (tlv.tag !== Tag.OCTET_STRING || tlv.end - tlv.start !== len) {
    throw new DerError(`expected OCTET STRING of ${len} bytes`, tlv.at);
  }
  return buf.slice(tlv.start, tlv.end);
}

/** Decodes the extnValue of OID 1.2.840.113741.1.13.1. */
export function parsePckExtensions(value: Uint8Array): PckExtensions {
  const buf = value;
  const top = expect(buf, 0, buf.length, Tag.SEQUENCE);
  if (top.end !== buf.length) throw new DerError("trailing bytes after SGX extension", top.end);
  const p = OID_SGX_EXTENSION + ".";
  const out: Partial<PckExtensions> = {};
  for (const item of children(buf, top)) {
    if (item.tag !== Tag.SEQUENCE) throw new DerError("expected SGX extension entry", item.at);
    const [idTlv, v, extra] = children(buf, item);
    if (!idTlv || !v || extra) throw new DerError("bad SGX extension entry", item.at);
    const id = oid(buf, idTlv);
    switch (id) {
      case p + "1":
        out.ppid = octets(buf, v, 16);
        break;
      case p + "2": {
        if (v.tag !== Tag.SEQUENCE) throw new DerError("expected TCB SEQUENCE", v.at);
        const comps = new Array<number>(16).fill(-1);
        let pceSvn = -1;
        let cpuSvn: Uint8Array | undefined;
        for (const c of children(buf, v)) {
          if (c.tag !== Tag.SEQUENCE) throw new DerError("expected TCB component", c.at);
          const [cid, cv, more] = children(buf, c);
          if (!cid || !cv || more) throw new DerError("bad TCB component", c.at);
          const sub = oid(buf, cid);
          if (!sub.startsWith(p + "2.")) throw new DerError("unknown TCB component", cid.at);
          const n = Number(sub.slice(p.length + 2));
          if (n >= 1 && n <= 16) {
            if (comps[n - 1] !== -1) throw new DerError("duplicate TCB component", c.at);
            comps[n - 1] = smallInteger(buf, cv, 255);
          } else if (n === 17) pceSvn = smallInteger(buf, cv, 0xffff);
          else if (n === 18) cpuSvn = octets(buf, cv, 16);
          else throw new DerError("unknown TCB component", cid.at);
        }
        if (comps.includes(-1) || pceSvn < 0 || !cpuSvn) {
          throw new DerError("incomplete TCB in SGX extension", v.at);
        }
        out.sgxTcbComponents = comps;
        out.pceSvn = pceSvn;
        out.cpuSvn = cpuSvn;
        break;
      }
      case p + "3":
        out.pceId = toHex(octets(buf, v, 2));
        break;
      case p + "4":
        out.fmspc = toHex(octets(buf, v, 6));
        break;
      case p + "5":
        out.sgxType = smallInteger(buf, v, 2, Tag.ENUMERATED);
        break;
      case p + "6":
        out.platformInstanceId = octets(buf, v, 16);
        break;
      case p + "7": {
        if (v.tag !== Tag.SEQUENCE) throw new DerError("expected Configuration SEQUENCE", v.at);
        const conf: NonNullable<PckExtensions["configuration"]> = {};
        for (const c of children(buf, v)) {
          if (c.tag !== Tag.SEQUENCE) throw new DerError("expected configuration entry", c.at);
          const [cid, cv, more] = children(buf, c);
          if (!cid || !cv || more) throw new DerError("bad configuration entry", c.at);
          const sub = oid(buf, cid);
          const flag = boolean(buf, cv);
          if (sub === p + "7.1") conf.dynamicPlatform = flag;
          else if (sub === p + "7.2") conf.cachedKeys = flag;
          else if (sub === p + "7.3") conf.smtEnabled = flag;
        }
        out.configuration = conf;
        break;
      }
      default:
        break; // future Intel fields are tolerated
    }
  }
  if (
    !out.ppid || !out.sgxTcbComponents || out.pceId === undefined || out.fmspc === undefined ||
    out.sgxType === undefined
  ) {
    throw new DerError("SGX extension misses a mandatory field", 0);
  }
  return out as PckExtensions;
}

/** Finds and decodes the SGX extension of a certificate, or `undefined` if absent. */
export function pckExtensionsOf(cert: Certificate): PckExtensions | undefined {
  const ext = cert.extensions.find((e) => e.oid === OID_SGX_EXTENSION);
  return ext ? parsePckExtensions(ext.value) : undefined;
}

/** True if the CRL lists the serial (lowercase hex, no leading zeros). */
export function isRevoked(crl: Crl, serial: string): boolean {
  return crl.revokedSerials.has(serial.toLowerCase().replace(/^0x/, "").replace(/^(00)+(?=.)/, ""));
}
