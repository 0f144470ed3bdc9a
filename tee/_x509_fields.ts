// DER fields shared by certificate and CRL parsing: algorithm identifiers,
// names, validity, public keys and extensions.
import { bitString, boolean, children, expect, oid, Tag, time, type Tlv } from "./_der.ts";
import { DerError } from "./errors.ts";
import { type Extension } from "./x509.ts";

export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
export const OID_P256 = "1.2.840.10045.3.1.7";
export const OID_BASIC_CONSTRAINTS = "2.5.29.19";
export const NAME_KEYS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

/** A signed X.509 structure (certificate or CRL) split into its three parts. */
export interface Signed {
  /** The to-be-signed SEQUENCE. */
  tbs: Tlv;
  /** Its fields. */
  fields: Tlv[];
  /** The outer signature algorithm. */
  sigAlg: Tlv;
  /** The signature BIT STRING. */
  sigVal: Tlv;
}

/** Splits a signed structure; `what` names it in errors ("certificate", "CRL"). */
export function signed(der: Uint8Array, what: string): Signed {
  const top = expect(der, 0, der.length, Tag.SEQUENCE);
  if (top.end !== der.length) throw new DerError(`trailing bytes after ${what}`, top.end);
  const [tbs, sigAlg, sigVal, extra] = children(der, top);
  if (!tbs || !sigAlg || !sigVal || extra || tbs.tag !== Tag.SEQUENCE) {
    throw new DerError(`${what} must have three parts`, top.at);
  }
  return { tbs, fields: children(der, tbs), sigAlg, sigVal };
}

/** Field `k` after the first `skip` of a to-be-signed part; throws when it is missing. */
export function field(s: Signed, skip: number, k: number, what: string): Tlv {
  const p = s.fields[skip + k];
  if (!p) throw new DerError(`truncated ${what}`, s.tbs.end);
  return p;
}

export function algorithm(buf: Uint8Array, tlv: Tlv): string {
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

export function name(buf: Uint8Array, tlv: Tlv): { text: string; cn: string } {
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

export function validity(buf: Uint8Array, tlv: Tlv): [number, number] {
  if (tlv.tag !== Tag.SEQUENCE) throw new DerError("expected Validity", tlv.at);
  const [a, b, extra] = children(buf, tlv);
  if (!a || !b || extra) throw new DerError("bad Validity", tlv.at);
  return [time(buf, a), time(buf, b)];
}

export function publicKeyInfo(buf: Uint8Array, tlv: Tlv): Uint8Array {
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

export function extensions(buf: Uint8Array, tlv: Tlv): Extension[] {
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

export function basicConstraintsCa(ext: Extension | undefined): boolean {
  if (!ext) return false;
  const buf = ext.value;
  const seq = expect(buf, 0, buf.length, Tag.SEQUENCE);
  const [first] = children(buf, seq);
  return first?.tag === Tag.BOOLEAN ? boolean(buf, first) : false;
}
