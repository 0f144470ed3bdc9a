/**
 * Parsing of Intel DCAP quotes: SGX v3, TDX v4 and v5 (TD 1.0 and TD 1.5
 * bodies). Layout reference: Intel `sgx_quote_3.h`/`_4.h`/`_5.h` and QVL
 * `Quote.cpp`.
 *
 * @module
 */
import { latin1, toHex } from "@mosaik/transport";
import { DerError, QuoteParseError } from "./errors.ts";
import { type Certificate, parseCertificate, pemToDer } from "./x509.ts";
import { type PckExtensions, pckExtensionsOf } from "./pck_extensions.ts";

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

/** SGX ATTRIBUTES flags decoded from the first 8 bytes (u64 LE). */
export interface SgxAttributeFlags {
  /** Bit 0. */
  init: boolean;
  /** Bit 1: the enclave is debuggable. */
  debug: boolean;
  /** Bit 2. */
  mode64bit: boolean;
  /** Bit 4. */
  provisionKey: boolean;
  /** Bit 5. */
  einitTokenKey: boolean;
  /** Bit 7: key separation and sharing. */
  kss: boolean;
}

/** A 384-byte SGX enclave report (ISV body of SGX quotes, and every QE report). */
export interface EnclaveReport {
  /** Discriminator. */
  kind: "sgx";
  /** The 384 raw bytes. */
  raw: Uint8Array;
  /** CPUSVN (16). */
  cpuSvn: Uint8Array;
  /** MISCSELECT (u32 LE). */
  miscSelect: number;
  /** ISVEXTPRODID (16). */
  isvExtProdId: Uint8Array;
  /** ATTRIBUTES: flags u64 LE then XFRM u64 LE (16). */
  attributes: Uint8Array;
  /** Decoded attribute flags. */
  attributeFlags: SgxAttributeFlags;
  /** MRENCLAVE (32). */
  mrEnclave: Uint8Array;
  /** MRSIGNER (32). */
  mrSigner: Uint8Array;
  /** CONFIGID (64). */
  configId: Uint8Array;
  /** ISVPRODID. */
  isvProdId: number;
  /** ISVSVN. */
  isvSvn: number;
  /** CONFIGSVN. */
  configSvn: number;
  /** ISVFAMILYID (16). */
  isvFamilyId: Uint8Array;
  /** REPORTDATA (64). */
  reportData: Uint8Array;
}

/** TDATTRIBUTES decoded (u64 LE). */
export interface TdAttributes {
  /** Bit 0: the TD is debuggable; production policy must reject it. */
  debug: boolean;
  /** Bit 28: EPT violations do not become #VE. */
  septVeDisable: boolean;
  /** Bit 30: protection keys for supervisor pages. */
  pks: boolean;
  /** Bit 31: Key Locker. */
  keyLocker: boolean;
  /** Bit 63: perfmon. */
  perfmon: boolean;
  /** True if any reserved bit (1–27, 29, 32–62) is set. */
  reservedBitsSet: boolean;
}

/** A TD report body (TD 1.0, 584 bytes, or TD 1.5, 648 bytes). */
export interface TdReport {
  /** Discriminator: `td10` or `td15`. */
  kind: "td10" | "td15";
  /** The raw body bytes. */
  raw: Uint8Array;
  /** TEE_TCB_SVN (16): [0] module SVN, [1] module major version, [2] late microcode update SVN. */
  teeTcbSvn: Uint8Array;
  /** MRSEAM (48). */
  mrSeam: Uint8Array;
  /** MRSIGNERSEAM (48). */
  mrSignerSeam: Uint8Array;
  /** SEAMATTRIBUTES (8). */
  seamAttributes: Uint8Array;
  /** TDATTRIBUTES raw (8). */
  tdAttributes: Uint8Array;
  /** TDATTRIBUTES decoded. */
  tdAttributeFlags: TdAttributes;
  /** XFAM (8). */
  xfam: Uint8Array;
  /** MRTD (48). */
  mrTd: Uint8Array;
  /** MRCONFIGID (48). */
  mrConfigId: Uint8Array;
  /** MROWNER (48). */
  mrOwner: Uint8Array;
  /** MROWNERCONFIG (48). */
  mrOwnerConfig: Uint8Array;
  /** RTMR0–3 (48 each). */
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** REPORTDATA (64). */
  reportData: Uint8Array;
  /** TD 1.5 only: TEE_TCB_SVN_2 (16). */
  teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only: MRSERVICETD (48). */
  mrServiceTd?: Uint8Array;
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

const u16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);

/** Decodes a 384-byte SGX enclave report. */
export function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  if (raw.length !== 384) throw new QuoteParseError("enclave report must be 384 bytes", 0);
  const f = raw[48];
  return {
    kind: "sgx",
    raw,
    cpuSvn: raw.subarray(0, 16),
    miscSelect: (raw[16] | (raw[17] << 8) | (raw[18] << 16)) + raw[19] * 0x1000000,
    isvExtProdId: raw.subarray(32, 48),
    attributes: raw.subarray(48, 64),
    attributeFlags: {
      init: (f & 1) !== 0,
      debug: (f & 2) !== 0,
      mode64bit: (f & 4) !== 0,
      provisionKey: (f & 0x10) !== 0,
      einitTokenKey: (f & 0x20) !== 0,
      kss: (f & 0x80) !== 0,
    },
    mrEnclave: raw.subarray(64, 96),
    mrSigner: raw.subarray(128, 160),
    configId: raw.subarray(192, 256),
    isvProdId: u16(raw, 256),
    isvSvn: u16(raw, 258),
    configSvn: u16(raw, 260),
    isvFamilyId: raw.subarray(304, 320),
    reportData: raw.subarray(320, 384),
  };
}

function tdAttributes(a: Uint8Array): TdAttributes {
  const reserved = (a[0] & 0xfe) | a[1] | a[2] | (a[3] & 0x2f) | a[4] | a[5] | a[6] | (a[7] & 0x7f);
  return {
    debug: (a[0] & 1) !== 0,
    septVeDisable: (a[3] & 0x10) !== 0,
    pks: (a[3] & 0x40) !== 0,
    keyLocker: (a[3] & 0x80) !== 0,
    perfmon: (a[7] & 0x80) !== 0,
    reservedBitsSet: reserved !== 0,
  };
}

/** Decodes a 584-byte (TD 1.0) or 648-byte (TD 1.5) TD report body. */
export function parseTdReport(raw: Uint8Array): TdReport {
  if (raw.length !== 584 && raw.length !== 648) {
    throw new QuoteParseError("TD report must be 584 or 648 bytes", 0);
  }
  const m = (o: number, n = 48) => raw.subarray(o, o + n);
  const tdAttr = m(120, 8);
  const report: TdReport = {
    kind: raw.length === 584 ? "td10" : "td15",
    raw,
    teeTcbSvn: m(0, 16),
    mrSeam: m(16),
    mrSignerSeam: m(64),
    seamAttributes: m(112, 8),
    tdAttributes: tdAttr,
    tdAttributeFlags: tdAttributes(tdAttr),
    xfam: m(128, 8),
    mrTd: m(136),
    mrConfigId: m(184),
    mrOwner: m(232),
    mrOwnerConfig: m(280),
    rtmrs: [m(328), m(376), m(424), m(472)],
    reportData: m(520, 64),
  };
  if (raw.length === 648) {
    report.teeTcbSvn2 = m(584, 16);
    report.mrServiceTd = m(600);
  }
  return report;
}

// Parsed PCK chains keyed by their exact bytes: quotes from one platform carry
// identical chains, so repeated parses skip PEM/DER work. Bounded FIFO.
const chainCache = new Map<string, { certificates: Certificate[]; pck?: PckExtensions }>();
const CHAIN_CACHE_MAX = 256;

function parseChain(
  data: Uint8Array,
  base: number,
): { certificates: Certificate[]; pck?: PckExtensions } {
  const key = latin1(data);
  const hit = chainCache.get(key);
  if (hit) return hit;
  let entry: { certificates: Certificate[]; pck?: PckExtensions };
  try {
    const certificates = pemToDer(key).map(parseCertificate);
    entry = { certificates, pck: pckExtensionsOf(certificates[0]) };
  } catch (e) {
    if (e instanceof DerError) {
      throw new QuoteParseError(`bad PCK certificate chain: ${e.message}`, base);
    }
    throw e;
  }
  if (chainCache.size >= CHAIN_CACHE_MAX) chainCache.delete(chainCache.keys().next().value!);
  chainCache.set(key, entry);
  return entry;
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
