/**
 * Intel's SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1):
 * FMSPC, TCB components, PCE-ID and platform data.
 *
 * @module
 */
import { toHex } from "@mosaik/transport";
import { boolean, children, expect, oid, smallInteger, Tag, type Tlv } from "./_der.ts";
import { DerError } from "./errors.ts";
import { type Certificate, OID_SGX_EXTENSION } from "./x509.ts";

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
