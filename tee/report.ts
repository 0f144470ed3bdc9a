/**
 * SGX enclave reports and TDX TD reports: the measured body of a quote (and
 * of the QE report inside it), parsed into typed fields.
 *
 * @module
 */
import { QuoteParseError } from "./errors.ts";
import { u16 } from "./_le.ts";

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
