/**
 * Test-only DCAP material: a complete, self-consistent TEST public key
 * infrastructure (root CA, PCK platform CA, PCK leaf with the Intel SGX
 * extension, TCB signing certificate, root and PCK CRLs, signed TCB info and
 * QE identity) and TDX v4 quotes signed through it.
 *
 * Nothing here is chained to the Intel SGX Root CA: a verifier only accepts
 * these quotes when the test root is passed explicitly as the trust anchor.
 * Used by the TDX ticket tests and the multi-node ticket suites; also a
 * fake configfs-tsm tree ({@linkcode fakeKernel}) for quote acquisition tests.
 *
 * @module
 */
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, toHex } from "@mosaik/transport";
import type { Collateral } from "./collateral.ts";
import { INTEL_QE_VENDOR_ID } from "./quote.ts";

import { type FakeKernel, fakeKernelWith } from "./_fake_tsm.ts";
export type { FakeKernel };

/**
 * A fake configfs-tsm report root (a temp directory with the kernel's file
 * protocol) that serves quotes of a {@linkcode TestDcap} hierarchy, for
 * tests of quote acquisition; `provider` is what its `provider` file says.
 */
export function fakeKernel(provider = "tdx_guest"): Promise<FakeKernel> {
  return fakeKernelWith(TestDcap.create().quote({ reportData: new Uint8Array(64) }), provider);
}

// ---- a minimal DER writer -------------------------------------------------

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  const n = body.length;
  const len = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(new Uint8Array([tag, ...len]), body);
}

const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array) => tlv(0x03, new Uint8Array([0]), b);
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const bool = (v: boolean) => tlv(0x01, new Uint8Array([v ? 0xff : 0]));
const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 + n, inner);

function uint(value: number | Uint8Array, tag = 0x02): Uint8Array {
  let bytes: number[];
  if (typeof value === "number") {
    bytes = [];
    do {
      bytes.unshift(value & 0xff);
      value = Math.floor(value / 256);
    } while (value > 0);
  } else bytes = [...value];
  while (bytes.length > 1 && bytes[0] === 0 && !(bytes[1] & 0x80)) bytes.shift();
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(tag, new Uint8Array(bytes));
}

function oid(text: string): Uint8Array {
  const arcs = text.split(".").map(Number);
  const out = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | 0x80);
    }
    out.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(out));
}

function time(ms: number): Uint8Array {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "") + "Z";
  const year = Number(iso.slice(0, 4));
  return year >= 1950 && year < 2050
    ? tlv(0x17, new TextEncoder().encode(digits.slice(2)))
    : tlv(0x18, new TextEncoder().encode(digits));
}

const OID = {
  cn: "2.5.4.3",
  org: "2.5.4.10",
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  sgx: "1.2.840.113741.1.13.1",
} as const;

const ALG = seq(oid(OID.ecdsaSha256));
const DAY = 86_400_000;

function name(cn: string): Uint8Array {
  return seq(
    set(seq(oid(OID.cn), utf8(cn))),
    set(seq(oid(OID.org), utf8("mosaik test PKI (not Intel)"))),
  );
}

function pem(der: Uint8Array): string {
  const b64 = der.toBase64();
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** A P-256 key pair and the certificate that carries its public key. */
interface Issued {
  secret: Uint8Array;
  name: Uint8Array;
  der: Uint8Array;
}

function signDer(tbs: Uint8Array, secret: Uint8Array): Uint8Array {
  return seq(tbs, ALG, bits(p256.sign(tbs, secret, { format: "der" })));
}

function certificate(options: {
  serial: number;
  subject: string;
  issuer?: Issued;
  notBefore: number;
  notAfter: number;
  ca: boolean;
  extra?: Uint8Array[];
}): Issued {
  const secret = p256.utils.randomSecretKey();
  const subject = name(options.subject);
  const spki = seq(
    seq(oid(OID.ecPublicKey), oid(OID.p256)),
    bits(p256.getPublicKey(secret, false)),
  );
  const exts = [
    seq(oid(OID.basicConstraints), bool(true), octets(seq(...(options.ca ? [bool(true)] : [])))),
    seq(
      oid(OID.keyUsage),
      bool(true),
      octets(
        options.ca ? tlv(0x03, new Uint8Array([1, 0x06])) : tlv(0x03, new Uint8Array([6, 0xc0])),
      ),
    ),
    ...(options.extra ?? []),
  ];
  const tbs = seq(
    explicit(0, uint(2)),
    uint(options.serial),
    ALG,
    options.issuer?.name ?? subject,
    seq(time(options.notBefore), time(options.notAfter)),
    subject,
    spki,
    explicit(3, seq(...exts)),
  );
  return { secret, name: subject, der: signDer(tbs, options.issuer?.secret ?? secret) };
}

function crl(
  issuer: Issued,
  thisUpdate: number,
  nextUpdate: number,
  revoked: string[],
): Uint8Array {
  const entries = revoked.map((serial) =>
    seq(uint(Uint8Array.fromHex(serial.length % 2 ? "0" + serial : serial)), time(thisUpdate))
  );
  const tbs = seq(
    uint(1),
    ALG,
    issuer.name,
    time(thisUpdate),
    time(nextUpdate),
    ...(entries.length > 0 ? [seq(...entries)] : []),
  );
  return signDer(tbs, issuer.secret);
}

function sgxExtension(fmspc: string, pceSvn: number, svn: number): Uint8Array {
  const p = OID.sgx + ".";
  const comps = Array.from(
    { length: 16 },
    (_, i) => seq(oid(`${p}2.${i + 1}`), uint(svn)),
  );
  const value = seq(
    seq(oid(p + "1"), octets(new Uint8Array(16).fill(0x5a))),
    seq(
      oid(p + "2"),
      seq(
        ...comps,
        seq(oid(p + "2.17"), uint(pceSvn)),
        seq(oid(p + "2.18"), octets(new Uint8Array(16).fill(svn))),
      ),
    ),
    seq(oid(p + "3"), octets(new Uint8Array(2))),
    seq(oid(p + "4"), octets(Uint8Array.fromHex(fmspc))),
    seq(oid(p + "5"), uint(0, 0x0a)),
  );
  return seq(oid(OID.sgx), octets(value));
}

// ---- the test PKI -----------------------------------------------------------

/** What a synthetic TD reports. */
export interface TestQuoteOptions {
  /** REPORTDATA (64 bytes). */
  reportData: Uint8Array;
  /** MRTD (48 bytes); default 48 × 0x11. */
  mrTd?: Uint8Array;
  /** RTMR0–3 (48 bytes each); default 48 × 0x20+i. */
  rtmrs?: readonly Uint8Array[];
  /** Set the TDATTRIBUTES DEBUG bit. */
  debug?: boolean;
}

/** Options of {@linkcode TestDcap.create}. */
export interface TestDcapOptions {
  /** The time the collateral is issued around; default now. */
  now?: Date;
  /** Serials (hex) the PCK CRL lists as revoked. */
  revokedSerials?: string[];
}

const FMSPC = "00906ed50000";
const QE_MRSIGNER = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";

/**
 * A TEST DCAP hierarchy with its collateral, able to sign TDX v4 quotes.
 *
 * @example
 * ```ts ignore
 * const pki = TestDcap.create();
 * const quote = pki.quote({ reportData: new Uint8Array(64) });
 * await verifyQuote(quote, pki.collateral, { now: new Date(), trustedRoot: pki.rootDer });
 * ```
 */
export class TestDcap {
  /** DER of the test root CA (pass it as the trust anchor). */
  readonly rootDer: Uint8Array;
  /** PEM of the test root CA. */
  readonly rootPem: string;
  /** Collateral in the dcap-qvl JSON layout, signed by the test hierarchy. */
  readonly collateral: Collateral;
  /** Serial (hex) of the PCK leaf certificate. */
  readonly pckSerial: string;
  readonly #pck: Issued;
  readonly #chainPem: string;

  private constructor(options: TestDcapOptions) {
    const now = (options.now ?? new Date()).getTime();
    const notBefore = now - DAY;
    const notAfter = now + 3650 * DAY;
    const root = certificate({
      serial: 1,
      subject: "Test SGX Root CA",
      notBefore,
      notAfter,
      ca: true,
    });
    const ca = certificate({
      serial: 2,
      subject: "Test SGX PCK Platform CA",
      issuer: root,
      notBefore,
      notAfter,
      ca: true,
    });
    const tcbSigner = certificate({
      serial: 3,
      subject: "Test SGX TCB Signing",
      issuer: root,
      notBefore,
      notAfter,
      ca: false,
    });
    this.#pck = certificate({
      serial: 0x4d4f53,
      subject: "Test SGX PCK Certificate",
      issuer: ca,
      notBefore,
      notAfter,
      ca: false,
      extra: [sgxExtension(FMSPC, 11, 3)],
    });
    this.pckSerial = "4d4f53";
    this.rootDer = root.der;
    this.rootPem = pem(root.der);
    this.#chainPem = pem(this.#pck.der) + pem(ca.der) + this.rootPem;
    const issued = new Date(now - DAY).toISOString().replace(/\.\d+Z$/, "Z");
    const next = new Date(now + 30 * DAY).toISOString().replace(/\.\d+Z$/, "Z");
    const zero48 = "00".repeat(48);
    const level = (s: number) => Array.from({ length: 16 }, () => ({ svn: s }));
    const tcbInfo = JSON.stringify({
      id: "TDX",
      version: 3,
      issueDate: issued,
      nextUpdate: next,
      fmspc: FMSPC.toUpperCase(),
      pceId: "0000",
      tcbType: 0,
      tcbEvaluationDataNumber: 17,
      tdxModule: {
        mrsigner: zero48,
        attributes: "0000000000000000",
        attributesMask: "FFFFFFFFFFFFFFFF",
      },
      tdxModuleIdentities: [{
        id: "TDX_01",
        mrsigner: zero48,
        attributes: "0000000000000000",
        attributesMask: "FFFFFFFFFFFFFFFF",
        tcbLevels: [{ tcb: { isvsvn: 2 }, tcbDate: issued, tcbStatus: "UpToDate" }],
      }],
      tcbLevels: [{
        tcb: { sgxtcbcomponents: level(3), pcesvn: 11, tdxtcbcomponents: level(0) },
        tcbDate: issued,
        tcbStatus: "UpToDate",
      }],
    });
    const qeIdentity = JSON.stringify({
      id: "TD_QE",
      version: 2,
      issueDate: issued,
      nextUpdate: next,
      tcbEvaluationDataNumber: 17,
      miscselect: "00000000",
      miscselectMask: "FFFFFFFF",
      attributes: "11000000000000000000000000000000",
      attributesMask: "FBFFFFFFFFFFFFFF0000000000000000",
      mrsigner: QE_MRSIGNER.toUpperCase(),
      isvprodid: 2,
      tcbLevels: [{ tcb: { isvsvn: 4 }, tcbDate: issued, tcbStatus: "UpToDate" }],
    });
    const enc = new TextEncoder();
    const signText = (text: string) => toHex(p256.sign(enc.encode(text), tcbSigner.secret));
    this.collateral = {
      pck_crl_issuer_chain: pem(ca.der) + this.rootPem,
      root_ca_crl: toHex(crl(root, now - DAY, now + 30 * DAY, [])),
      pck_crl: toHex(crl(ca, now - DAY, now + 30 * DAY, options.revokedSerials ?? [])),
      tcb_info_issuer_chain: pem(tcbSigner.der) + this.rootPem,
      tcb_info: tcbInfo,
      tcb_info_signature: signText(tcbInfo),
      qe_identity_issuer_chain: pem(tcbSigner.der) + this.rootPem,
      qe_identity: qeIdentity,
      qe_identity_signature: signText(qeIdentity),
    };
  }

  /** A fresh test hierarchy (new random keys every time). */
  static create(options: TestDcapOptions = {}): TestDcap {
    return new TestDcap(options);
  }

  /** A TDX v4 quote signed through this hierarchy. */
  quote(options: TestQuoteOptions): Uint8Array {
    if (options.reportData.length !== 64) throw new RangeError("REPORTDATA is 64 bytes");
    const header = new Uint8Array(48);
    const hv = new DataView(header.buffer);
    hv.setUint16(0, 4, true);
    hv.setUint16(2, 2, true);
    hv.setUint32(4, 0x81, true);
    header.set(Uint8Array.fromHex(INTEL_QE_VENDOR_ID), 12);
    const body = new Uint8Array(584);
    body.set([3, 1, 0], 0); // TEE_TCB_SVN: module SVN 3, major version 1 (TDX_01)
    body.fill(0x33, 16, 64); // MRSEAM
    body[123] = 0x10; // TDATTRIBUTES: SEPT_VE_DISABLE (bit 28)
    if (options.debug) body[120] = 0x01;
    body.set([0xe7, 0x02, 0x06], 128); // XFAM
    body.set(options.mrTd ?? new Uint8Array(48).fill(0x11), 136);
    for (let i = 0; i < 4; i++) {
      body.set(options.rtmrs?.[i] ?? new Uint8Array(48).fill(0x20 + i), 328 + 48 * i);
    }
    body.set(options.reportData, 520);

    const attestation = p256.utils.randomSecretKey();
    const attKey = p256.getPublicKey(attestation, false).subarray(1);
    const authData = Uint8Array.from({ length: 32 }, (_, i) => i);
    const qeReport = new Uint8Array(384);
    qeReport.fill(3, 0, 16); // CPUSVN
    qeReport[48] = 0x11; // ATTRIBUTES flags: INIT | PROVISION_KEY
    qeReport.set(Uint8Array.fromHex(QE_MRSIGNER), 128);
    qeReport.set([2, 0, 4, 0], 256); // ISVPRODID 2, ISVSVN 4
    qeReport.set(sha256(concatBytes(attKey, authData)), 320);
    const chain = new TextEncoder().encode(this.#chainPem + "\0");

    const inner = new Uint8Array(6);
    new DataView(inner.buffer).setUint16(0, 5, true);
    new DataView(inner.buffer).setUint32(2, chain.length, true);
    const authLen = new Uint8Array([32, 0]);
    const certData = concatBytes(
      qeReport,
      p256.sign(qeReport, this.#pck.secret),
      authLen,
      authData,
      inner,
      chain,
    );
    const outer = new Uint8Array(6);
    new DataView(outer.buffer).setUint16(0, 6, true);
    new DataView(outer.buffer).setUint32(2, certData.length, true);
    const signed = concatBytes(header, body);
    const sigData = concatBytes(p256.sign(signed, attestation), attKey, outer, certData);
    const sigLen = new Uint8Array(4);
    new DataView(sigLen.buffer).setUint32(0, sigData.length, true);
    return concatBytes(...[signed, sigLen, sigData]);
  }
}
