/**
 * Strict parsing of certificate revocation lists (Intel's PCK and root CRLs).
 *
 * @module
 */
import { toHex } from "@mosaik/transport";
import {
  bitString,
  children,
  ecdsaSignatureToRaw,
  smallInteger,
  Tag,
  time,
  unsignedInteger,
} from "./_der.ts";
import { DerError } from "./errors.ts";
import { algorithm, extensions, field, name, signed } from "./_x509_fields.ts";

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

/** Parses a DER CRL (v1 or v2); throws {@linkcode DerError} on any malformed byte. */
export function parseCrl(der: Uint8Array): Crl {
  const s = signed(der, "CRL");
  const { tbs: tbsTlv, fields: parts, sigAlg, sigVal } = s;
  let i = 0;
  if (parts[0]?.tag === Tag.INTEGER) {
    if (smallInteger(der, parts[0], 1) !== 1) {
      throw new DerError("unsupported CRL version", parts[0].at);
    }
    i = 1;
  }
  const need = (k: number) => field(s, i, k, "tbsCertList");
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

/** True if the CRL lists the serial (lowercase hex, no leading zeros). */
export function isRevoked(crl: Crl, serial: string): boolean {
  return crl.revokedSerials.has(serial.toLowerCase().replace(/^0x/, "").replace(/^(00)+(?=.)/, ""));
}
