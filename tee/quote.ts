/**
 * Parsing of Intel DCAP quotes: SGX v3, TDX v4 and v5 (TD 1.0 and TD 1.5
 * bodies). Layout reference: Intel `sgx_quote_3.h`/`_4.h`/`_5.h` and QVL
 * `Quote.cpp`.
 *
 * @module
 */
import { latin1, toHex } from "@mosaik/transport";
import { DerError, QuoteParseError } from "./errors.ts";
import { u16 } from "./_le.ts";
import { type EnclaveReport, parseEnclaveReport, parseTdReport, type TdReport } from "./report.ts";
import { type Certificate, parseCertificate, pemToDer } from "./x509.ts";
import { type PckExtensions, pckExtensionsOf } from "./pck_extensions.ts";
import { type ParsedChain, parsedChain } from "./_chain_cache.ts";

/** TEE type of SGX quotes. */
export const TEE_TYPE_SGX = 0x00000000;
/** TEE type of TDX quotes. */
export const TEE_TYPE_TDX = 0x00000081;
/** Intel's QE vendor id. */
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";

/** The 48-byte quote header. */
export interface QuoteHeader {
  /** 3, 4 or 5. */
  version: 3 | 4 | 5;
  /** 2 = ECDSA-256 with P-256. */
  attestationKeyType: number;
  /** {@linkcode TEE_TYPE_SGX} or {@linkcode TEE_TYPE_TDX}. */
  teeType: number;
  /** v3: QE SVN (bytes 8–9); reserved in v4/v5. */
  qeSvn: number;
  /** v3: PCE SVN (bytes 10–11); reserved in v4/v5. */
  pceSvn: number;
  /** QE vendor id (16 bytes). */
  qeVendorId: Uint8Array;
  /** User data (20 bytes). */
  userData: Uint8Array;
}

/** Certification data of the PCK: type 5 is a PEM chain; 1–4 are surfaced untrusted. */
export type CertificationData =
  | {
    /** PCK leaf, intermediate CA and root in PEM. */
    type: 5;
    /** The raw bytes. */
    data: Uint8Array;
    /** The DER certificates in order (leaf first). */
    certificates: Certificate[];
    /** The SGX extension of the leaf, when present. */
    pck?: PckExtensions;
  }
  | {
    /** 1: PPID in clear, 2: RSA-2048-OAEP PPID, 3: RSA-3072-OAEP PPID, 4: PCK leaf (unsupported). */
    type: 1 | 2 | 3 | 4;
    /** The raw bytes (not trusted; the PCK certificate must come from elsewhere). */
    data: Uint8Array;
    /**
     * Types 1–3 with their standard length: the PPID (clear for type 1,
     * RSA-OAEP encrypted for 2 and 3) and the platform's CPUSVN, PCESVN and
     * PCEID, which identify the PCK certificate to fetch.
     */
    platform?: { ppid: Uint8Array; cpuSvn: Uint8Array; pceSvn: number; pceId: string };
  };

/** The ECDSA signature data of a quote. */
export interface QuoteSignature {
  /** Quote signature raw r‖s (64). */
  signature: Uint8Array;
  /** Attestation public key raw x‖y (64). */
  attestationKey: Uint8Array;
  /** The QE report (parsed). */
  qeReport: EnclaveReport;
  /** QE report signature by the PCK key, raw r‖s (64). */
  qeReportSignature: Uint8Array;
  /** QE authentication data. */
  qeAuthData: Uint8Array;
  /** The certification data. */
  certification: CertificationData;
}

/** A parsed quote. Byte fields are views into the input buffer. */
export interface Quote {
  /** The header. */
  header: QuoteHeader;
  /** v5 body descriptor type (1 SGX, 2 TD 1.0, 3 TD 1.5); `undefined` for v3/v4. */
  bodyType?: 1 | 2 | 3;
  /** The report body. */
  body: EnclaveReport | TdReport;
  /** The bytes signed by the attestation key. */
  signedRegion: Uint8Array;
  /** Signature data. */
  signatureData: QuoteSignature;
  /** Bytes after the declared end (tolerated, not signed). */
  trailingBytes: number;
}

/** Options of {@linkcode parseQuote}. */
export interface ParseQuoteOptions {
  /** Accept bytes after the declared signature data (default `true`, as the fixtures require). */
  allowTrailingBytes?: boolean;
}

class Reader {
  constructor(readonly buf: Uint8Array, public at: number, readonly limit: number) {}
  need(n: number, what: string): number {
    if (this.at + n > this.limit) throw new QuoteParseError(`truncated ${what}`, this.at);
    const at = this.at;
    this.at += n;
    return at;
  }
  bytes(n: number, what: string): Uint8Array {
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }
  u16(what: string): number {
    const at = this.need(2, what);
    return this.buf[at] | (this.buf[at + 1] << 8);
  }
  u32(what: string): number {
    const at = this.need(4, what);
    return (this.buf[at] | (this.buf[at + 1] << 8) | (this.buf[at + 2] << 16)) +
      this.buf[at + 3] * 0x1000000;
  }
}

function parseChain(data: Uint8Array, base: number): ParsedChain {
  const text = latin1(data);
  return parsedChain(text, () => {
    try {
      const certificates = pemToDer(text).map(parseCertificate);
      return { certificates, pck: pckExtensionsOf(certificates[0]) };
    } catch (e) {
      if (e instanceof DerError) {
        throw new QuoteParseError(`bad PCK certificate chain: ${e.message}`, base);
      }
      throw e;
    }
  });
}

function certificationData(
  r: Reader,
  size: number,
  type: number,
  typeAt: number,
): CertificationData {
  const base = r.at;
  const data = r.bytes(size, "certification data");
  if (type === 5) return { type: 5, data, ...parseChain(data, base) };
  if (type === 4) return { type, data };
  if (type >= 1 && type <= 3) {
    const ppidLen = [0, 16, 256, 384][type];
    if (data.length !== ppidLen + 20) return { type: type as 1 | 2 | 3, data };
    return {
      type: type as 1 | 2 | 3,
      data,
      platform: {
        ppid: data.subarray(0, ppidLen),
        cpuSvn: data.subarray(ppidLen, ppidLen + 16),
        pceSvn: u16(data, ppidLen + 16),
        pceId: toHex(data.subarray(ppidLen + 18, ppidLen + 20)),
      },
    };
  }
  throw new QuoteParseError(`unsupported certification data type ${type}`, typeAt);
}

function qeSection(r: Reader): Omit<QuoteSignature, "signature" | "attestationKey"> {
  const qeReport = parseEnclaveReport(r.bytes(384, "QE report"));
  const qeReportSignature = r.bytes(64, "QE report signature");
  const authLen = r.u16("QE auth data size");
  const qeAuthData = r.bytes(authLen, "QE auth data");
  const typeAt = r.at;
  const type = r.u16("certification data type");
  const size = r.u32("certification data size");
  const certification = certificationData(r, size, type, typeAt);
  return { qeReport, qeReportSignature, qeAuthData, certification };
}

/**
 * Parses a DCAP quote. Strict about every declared length and field value
 * that Intel's QVL validates; tolerates bytes after the declared end unless
 * `allowTrailingBytes` is false. Throws {@linkcode QuoteParseError} (a
 * `DecodeError`) carrying the offset of the rejected field.
 *
 * @example
 * ```ts ignore
 * import { parseQuote } from "@mosaik/tee";
 * const quote = parseQuote(await Deno.readFile("quote.bin"));
 * if (quote.body.kind !== "sgx") console.log(quote.body.mrTd);
 * ```
 */
export function parseQuote(bytes: Uint8Array, options: ParseQuoteOptions = {}): Quote {
  const r = new Reader(bytes, 0, bytes.length);
  const version = r.u16("header");
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new QuoteParseError(`unsupported quote version ${version}`, 0);
  }
  const attestationKeyType = r.u16("header");
  if (attestationKeyType !== 2) {
    throw new QuoteParseError(`unsupported attestation key type ${attestationKeyType}`, 2);
  }
  const teeType = r.u32("header");
  if (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX) {
    throw new QuoteParseError(`unsupported TEE type 0x${teeType.toString(16)}`, 4);
  }
  if (version === 3 && teeType !== TEE_TYPE_SGX) {
    throw new QuoteParseError("a v3 quote must be SGX", 4);
  }
  const qeSvn = r.u16("header");
  const pceSvn = r.u16("header");
  const qeVendorId = r.bytes(16, "header");
  if (toHex(qeVendorId) !== INTEL_QE_VENDOR_ID) {
    throw new QuoteParseError("QE vendor id is not Intel's", 12);
  }
  const userData = r.bytes(20, "header");
  const header: QuoteHeader = {
    version,
    attestationKeyType,
    teeType,
    qeSvn,
    pceSvn,
    qeVendorId,
    userData,
  };

  let bodyType: 1 | 2 | 3 | undefined;
  let bodySize: number;
  if (version === 5) {
    const t = r.u16("body descriptor");
    const size = r.u32("body descriptor");
    if (teeType === TEE_TYPE_TDX ? t !== 2 && t !== 3 : t !== 1) {
      throw new QuoteParseError(`body type ${t} does not match the TEE type`, 48);
    }
    bodyType = t as 1 | 2 | 3;
    bodySize = [0, 384, 584, 648][t];
    if (size !== bodySize) {
      throw new QuoteParseError(`body size ${size} does not match body type ${t}`, 50);
    }
  } else bodySize = teeType === TEE_TYPE_TDX ? 584 : 384;
  const rawBody = r.bytes(bodySize, "report body");
  const body = bodySize === 384 ? parseEnclaveReport(rawBody) : parseTdReport(rawBody);
  const signedEnd = r.at;
  const sigLenAt = r.at;
  const sigLen = r.u32("signature data length");
  if (sigLen > bytes.length - r.at) {
    throw new QuoteParseError(`signature data length ${sigLen} exceeds the quote`, sigLenAt);
  }
  const s = new Reader(bytes, r.at, r.at + sigLen);
  const signature = s.bytes(64, "quote signature");
  const attestationKey = s.bytes(64, "attestation key");
  let qe: Omit<QuoteSignature, "signature" | "attestationKey">;
  if (version === 3) {
    qe = qeSection(s);
  } else {
    const typeAt = s.at;
    const outerType = s.u16("certification data type");
    if (outerType !== 6) {
      throw new QuoteParseError(`outer certification data type ${outerType} is not 6`, typeAt);
    }
    const sizeAt = s.at;
    const outerSize = s.u32("certification data size");
    if (s.at + outerSize !== s.limit) {
      throw new QuoteParseError(
        `certification data size ${outerSize} disagrees with signature data length ${sigLen}`,
        sizeAt,
      );
    }
    const inner = new Reader(bytes, s.at, s.limit);
    qe = qeSection(inner);
    if (inner.at !== inner.limit) {
      throw new QuoteParseError(
        `QE certification data ends at ${inner.at}, its declared size ends at ${inner.limit}`,
        sizeAt,
      );
    }
    s.at = s.limit;
  }
  if (s.at !== s.limit) {
    throw new QuoteParseError("signature data length disagrees with its content", sigLenAt);
  }
  const trailingBytes = bytes.length - s.limit;
  if (trailingBytes > 0 && options.allowTrailingBytes === false) {
    throw new QuoteParseError("trailing bytes after the quote", s.limit);
  }
  return {
    header,
    bodyType,
    body,
    signedRegion: bytes.subarray(0, signedEnd),
    signatureData: { signature, attestationKey, ...qe },
    trailingBytes,
  };
}
