// Single-byte mutation classes (go-tdx-guest's negative
// tests plus the v5 body descriptor), each rejected with its typed error.
import assert from "node:assert/strict";
import { DecodeError } from "@mosaik/transport";
import { parseQuote } from "./quote.ts";
import { QuoteVerifier, verifyQuote, verifyQuoteSignatures } from "./verify.ts";
import {
  CollateralFormatError,
  QuoteParseError,
  QuoteVerificationError,
  type VerificationFailure,
} from "./errors.ts";
import { readCollateral, readQuote } from "./_test_vectors.ts";
import { TestDcap } from "./testing.ts";
import { CHAINS_MAX, QE_REPORTS_MAX } from "./_trust.ts";
import { COLLATERAL_MAX } from "./_collateral_check.ts";
import { PARSED_CHAINS_MAX } from "./_chain_cache.ts";
import { importedKey, KEYS_MAX, verifyP256 } from "./_crypto.ts";

const Q04 = readQuote("q04_tdx_v4_google_spr-e4_fmspc-50806f000000.bin");
const Q05 = readQuote("q05_tdx_v5_td15_google_fmspc-90c06f000000.bin");
const Q04_TIME = Date.parse("2023-07-01T01:00:00Z");

function mutate(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  assert.notEqual(out[at], value);
  out[at] = value;
  return out;
}

const parseCases: [string, Uint8Array, number, number, number][] = [
  ["header version", Q04, 0x00, 3, 4],
  ["header version (unknown)", Q04, 0x00, 6, 0],
  ["header attestation key type", Q04, 0x02, 3, 2],
  ["header TEE type", Q04, 0x04, 0x80, 4],
  ["header QE vendor id", Q04, 0x0c, 0, 12],
  ["v5 body type", Q05, 48, 2, 50],
  ["v5 body type vs TEE", Q05, 48, 1, 48],
  ["v5 body size", Q05, 50, 0x48, 50],
  ["signature data length", Q04, 0x278, 0x10, 766],
  ["outer certification data type", Q04, 764, 5, 764],
  ["outer certification data size", Q04, 766, 1, 766],
  ["inner certification data type", Q04, 1252, 7, 1252],
  ["QE auth data size", Q04, 1218, 31, 1257],
  ["PCK PEM text", Q04, 0x1343, 0x32, 1258],
];

for (const [name, quote, at, value, offset] of parseCases) {
  Deno.test(`mutated ${name} (byte 0x${at.toString(16)}) is a QuoteParseError at ${offset}`, () => {
    assert.throws(
      () => parseQuote(mutate(quote, at, value)),
      (e) => e instanceof QuoteParseError && e instanceof DecodeError && e.offset === offset,
    );
  });
}

const verifyCases: [string, number, number, VerificationFailure][] = [
  ["header user data", 0x1e, 0x32, "quote_signature"],
  ["TD body", 0x3c, 0x32, "quote_signature"],
  ["TD body REPORTDATA", 568, 0x00, "quote_signature"],
  ["quote signature", 636 + 5, 0x00, "quote_signature"],
  ["attestation key", 700, 1, "qe_report_binding"], // the QE binds the key before it signs anything
  ["QE report", 770 + 64, 0xff, "qe_report_signature"],
  ["QE report signature", 1154 + 3, 0x00, "qe_report_signature"],
  ["QE auth data", 1220, 0xee, "qe_report_binding"],
  ["PCK leaf certificate", 0xb77, 0x32, "certificate_chain"],
  ["PCK intermediate certificate", 0xf5f, 0x32, "certificate_chain"],
  ["root certificate", 0x1329, 0x32, "certificate_chain"],
];

for (const [name, at, value, code] of verifyCases) {
  Deno.test(`mutated ${name} (byte 0x${at.toString(16)}) fails with ${code}`, async () => {
    await assert.rejects(
      verifyQuoteSignatures(mutate(Q04, at, value), { now: Q04_TIME }),
      (e) => e instanceof QuoteVerificationError && e.code === code,
    );
  });
}

Deno.test("a cached QE report signature does not vouch for a changed report or signature", async () => {
  const verifier = new QuoteVerifier();
  await verifier.verifySignatures(Q04, { now: Q04_TIME });
  await verifier.verifySignatures(Q04, { now: Q04_TIME });
  assert.equal(verifier.cacheStats.qeReportHits, 1);
  for (const at of [770 + 64, 1154 + 3]) {
    await assert.rejects(
      verifier.verifySignatures(mutate(Q04, at, Q04[at] ^ 1), { now: Q04_TIME }),
      (e) => e instanceof QuoteVerificationError && e.code === "qe_report_signature",
    );
  }
  assert.equal(verifier.cacheStats.qeReportHits, 1);
});

Deno.test("the QE report cache keeps its bound: the oldest report is checked again", async () => {
  // Every test quote carries a fresh attestation key, so a QE report of its own.
  const pki = TestDcap.create();
  const quotes = Array.from(
    { length: QE_REPORTS_MAX + 1 },
    () => pki.quote({ reportData: new Uint8Array(64) }),
  );
  const verifier = new QuoteVerifier(pki.rootDer);
  const now = Date.now();
  for (const q of quotes) await verifier.verifySignatures(q, { now });
  assert.equal(verifier.cacheStats.qeReportHits, 0);
  await verifier.verifySignatures(quotes.at(-1)!, { now });
  assert.equal(verifier.cacheStats.qeReportHits, 1, "the newest report is remembered");
  await verifier.verifySignatures(quotes[0], { now });
  assert.equal(verifier.cacheStats.qeReportHits, 1, "the oldest report was evicted");
});

/**
 * `quote` (a v4 quote with certification data type 5, as TestDcap makes) with
 * `spaces` blanks before the NUL that ends its PCK chain: the same chain,
 * spelled differently, which the quote's signatures do not cover.
 */
function respelled(quote: Uint8Array, spaces: number): Uint8Array {
  const out = new Uint8Array(quote.length + spaces);
  out.set(quote.subarray(0, -1));
  out.fill(0x20, quote.length - 1, quote.length - 1 + spaces);
  const view = new DataView(out.buffer);
  for (const at of [632, 766, 1254]) { // signature data, outer and inner certification data sizes
    view.setUint32(at, view.getUint32(at, true) + spaces, true);
  }
  return out;
}

Deno.test("the PCK chain cache keeps its bound under a flood of respelled chains", async () => {
  const pki = TestDcap.create();
  const quote = pki.quote({ reportData: new Uint8Array(64) });
  const verifier = new QuoteVerifier(pki.rootDer);
  const now = Date.now();
  for (let n = 1; n <= CHAINS_MAX + 1; n++) {
    await verifier.verifySignatures(respelled(quote, n), { now });
  }
  assert.equal(verifier.cacheStats.chainHits, 0, "every spelling is a chain of its own");
  await verifier.verifySignatures(respelled(quote, CHAINS_MAX + 1), { now });
  assert.equal(verifier.cacheStats.chainHits, 1, "the newest chain is remembered");
  await verifier.verifySignatures(respelled(quote, 1), { now });
  assert.equal(verifier.cacheStats.chainHits, 1, "the oldest chain was evicted");
});

Deno.test("the parsed-chain cache keeps its bound under a flood of respelled chains", () => {
  const quote = TestDcap.create().quote({ reportData: new Uint8Array(64) });
  const chainOf = (spaces: number) => {
    const cd = parseQuote(respelled(quote, spaces)).signatureData.certification;
    assert.equal(cd.type, 5);
    return cd.certificates;
  };
  const oldest = chainOf(1);
  let newest = oldest;
  for (let n = 2; n <= PARSED_CHAINS_MAX + 1; n++) newest = chainOf(n);
  assert.equal(chainOf(PARSED_CHAINS_MAX + 1), newest, "the newest chain is remembered");
  assert.notEqual(chainOf(1), oldest, "the oldest chain was evicted and parsed again");
});

Deno.test("the imported-key cache keeps its bound under a flood of attestation keys", async () => {
  // A quote names its own attestation key: any 64 bytes, each imported (or
  // refused) once and remembered. Deno imports points off the curve too.
  const point = (n: number) => {
    const p = new Uint8Array(65);
    p[0] = 4;
    new DataView(p.buffer).setUint32(1, n);
    return p;
  };
  const imported = [];
  for (let n = 0; n <= KEYS_MAX; n++) imported.push(importedKey(point(n)));
  assert.equal(importedKey(point(KEYS_MAX)), imported[KEYS_MAX], "the newest key is remembered");
  assert.equal(importedKey(point(1)), imported[1], "so is the oldest within the bound");
  assert.notEqual(importedKey(point(0)), imported[0], "the one before was evicted");
  assert.equal(await verifyP256(point(0), new Uint8Array(64), new Uint8Array(1)), false);
});

Deno.test("the collateral cache keeps its bound under a flood of respelled collateral", async () => {
  // An issuer chain is PEM text that no signature covers: blanks after it
  // make another collateral set, as valid as the first, for the cache.
  const pki = TestDcap.create();
  const quote = pki.quote({ reportData: new Uint8Array(64) });
  const withChainSpaces = (n: number) => ({
    ...pki.collateral,
    tcb_info_issuer_chain: pki.collateral.tcb_info_issuer_chain + " ".repeat(n),
  });
  const verifier = new QuoteVerifier(pki.rootDer);
  const now = Date.now();
  for (let n = 1; n <= COLLATERAL_MAX + 1; n++) {
    await verifier.verify(quote, withChainSpaces(n), { now });
  }
  assert.equal(verifier.cacheStats.collateralHits, 0, "every spelling is a set of its own");
  await verifier.verify(quote, withChainSpaces(COLLATERAL_MAX + 1), { now });
  assert.equal(verifier.cacheStats.collateralHits, 1, "the newest set is remembered");
  await verifier.verify(quote, withChainSpaces(1), { now });
  assert.equal(verifier.cacheStats.collateralHits, 1, "the oldest set was evicted");
});

Deno.test("a quote checked after its PCK leaf expired fails", async () => {
  await verifyQuoteSignatures(Q04, { now: Date.parse("2029-09-20T13:20:30Z") });
  await assert.rejects(
    verifyQuoteSignatures(Q04, { now: Date.parse("2029-09-20T13:20:32Z") }),
    (e) =>
      e instanceof QuoteVerificationError && e.code === "certificate_expired" &&
      /Intel SGX PCK Certificate/.test(e.message),
  );
});

Deno.test("tampered collateral is rejected", async () => {
  const q01 = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");
  const good = readCollateral("cA_phala_tdx_b0c06f_2025-06_");
  const now = 1752919234_000;
  const cases: [Partial<typeof good>, (e: unknown) => boolean][] = [
    [{ tcb_info: good.tcb_info.replace('"UpToDate"', '"OutOfDate"') }, code("tcb_info")],
    [
      { qe_identity: good.qe_identity.replace('"isvprodid":2', '"isvprodid":3') },
      code("qe_identity"),
    ],
    [{ tcb_info_signature: flipHex(good.tcb_info_signature as string, 10) }, code("tcb_info")],
    [
      { pck_crl: flipHex(good.pck_crl as string, (good.pck_crl as string).length - 10) },
      code("crl"),
    ],
    [
      { root_ca_crl: flipHex(good.root_ca_crl as string, 2) },
      (e) => e instanceof CollateralFormatError,
    ],
    [
      { tcb_info_issuer_chain: good.qe_identity_issuer_chain.slice(0, 900) },
      (e) => e instanceof CollateralFormatError,
    ],
    [{ pck_crl_issuer_chain: good.tcb_info_issuer_chain }, code("crl")],
  ];
  for (const [patch, check] of cases) {
    await assert.rejects(
      verifyQuote(q01, { ...good, ...patch }, { now }),
      check,
      JSON.stringify(Object.keys(patch)),
    );
  }
  // FMSPC of another platform's TCB info.
  const other = readCollateral("cB_phala_tdx_90c06f_2026-02_");
  await assert.rejects(
    verifyQuote(q01, {
      ...good,
      tcb_info: other.tcb_info,
      tcb_info_signature: other.tcb_info_signature,
    }, {
      now: Date.parse("2026-02-19T00:00:00Z"),
    }),
    // at that time cA's CRLs have expired: the first failing step is reported
    code("collateral_expired"),
  );
});

function code(c: VerificationFailure): (e: unknown) => boolean {
  return (e) => e instanceof QuoteVerificationError && e.code === c;
}

function flipHex(hex: string, at: number): string {
  const c = hex[at] === "0" ? "1" : "0";
  return hex.slice(0, at) + c + hex.slice(at + 1);
}
