// Random inputs never make the decoders throw anything but their typed
// DecodeErrors (seeded, a few thousand cases, well under a second each).
import assert from "node:assert/strict";
import { DecodeError } from "@mosaik/transport";
import { parseQuote } from "./quote.ts";
import { parseCertificate, pemToDer } from "./x509.ts";
import { parseCrl } from "./crl.ts";
import { collateralBytes, parseQeIdentity, parseTcbInfo } from "./collateral.ts";
import { CollateralFormatError, DerError, QuoteParseError } from "./errors.ts";
import { quoteFiles, readCollateral, readQuote } from "./_test_vectors.ts";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectTyped<T>(fn: () => T, type: new (...a: never[]) => DecodeError): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof type && e instanceof DecodeError, `unexpected ${e}`);
  }
}

const quotes = quoteFiles().map(readQuote);

Deno.test("fuzz: random bytes and random headers", () => {
  const r = rng(1);
  const header = quotes[0].subarray(0, 48);
  for (let i = 0; i < 1500; i++) {
    const len = Math.floor(r() * 2000);
    const b = new Uint8Array(len);
    for (let k = 0; k < len; k++) b[k] = r() * 256;
    if (i % 2 === 0 && len >= 48) b.set(header);
    expectTyped(() => parseQuote(b), QuoteParseError);
  }
});

Deno.test("fuzz: truncations of every real quote", () => {
  const r = rng(2);
  for (const q of quotes) {
    const end = parseQuote(q).trailingBytes;
    for (let i = 0; i < 250; i++) {
      const cut = Math.floor(r() * (q.length - end));
      assert.throws(() => parseQuote(q.subarray(0, cut)), QuoteParseError);
    }
  }
});

Deno.test("fuzz: byte flips in every real quote", () => {
  const r = rng(3);
  for (const q of quotes) {
    for (let i = 0; i < 250; i++) {
      const m = q.slice();
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) m[Math.floor(r() * m.length)] = r() * 256;
      expectTyped(() => parseQuote(m), QuoteParseError);
    }
  }
});

Deno.test("fuzz: byte flips in certificates, CRLs and collateral JSON", () => {
  const r = rng(4);
  const c = readCollateral("cA_phala_tdx_b0c06f_2025-06_");
  const certs = pemToDer(c.pck_crl_issuer_chain).concat(pemToDer(c.tcb_info_issuer_chain));
  const crls = [collateralBytes(c.root_ca_crl, ""), collateralBytes(c.pck_crl, "")];
  for (let i = 0; i < 600; i++) {
    const cert = certs[i % certs.length].slice();
    cert[Math.floor(r() * cert.length)] = r() * 256;
    expectTyped(() => parseCertificate(cert), DerError);
    expectTyped(() => parseCertificate(cert.subarray(0, Math.floor(r() * cert.length))), DerError);
    const crl = crls[i % 2].slice();
    crl[Math.floor(r() * crl.length)] = r() * 256;
    expectTyped(() => parseCrl(crl), DerError);
    for (
      const [text, parse] of [[c.tcb_info, parseTcbInfo], [c.qe_identity, parseQeIdentity]] as const
    ) {
      const at = Math.floor(r() * text.length);
      const mutated = text.slice(0, at) + String.fromCharCode(32 + r() * 90) + text.slice(at + 1);
      expectTyped(() => parse(mutated), CollateralFormatError);
    }
  }
});
