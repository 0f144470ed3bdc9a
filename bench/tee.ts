/**
 * TEE benchmarks: quote parsing and full DCAP verification (cold and warm
 * caches) next to `@phala/dcap-qvl` on the same quotes in the same run, plus
 * the ECDSA P-256 backend choice (WebCrypto vs `@noble/curves`).
 *
 * "Cold" uses a fresh `QuoteVerifier` per verification, so collateral (CRLs,
 * TCB info, QE identity and their chains) and the PCK chain are verified
 * again every time; "warm" reuses one verifier, so only the quote's own
 * signatures are checked. dcap-qvl repeats everything on every call.
 *
 * Run alone: `deno run -A bench/tee.ts`
 *
 * @module
 */
import dcap from "npm:@phala/dcap-qvl@0.3.9";
import { p256 } from "@noble/curves/nist.js";
import { type Collateral, parseQuote, QuoteVerifier } from "@mosaik/tee";
import { VECTORS } from "../tee/_test_vectors.ts";
import { figure, report } from "./_report.ts";

const CASES: [string, string, number][] = [
  ["q01_tdx_v4_phala_fmspc-b0c06f000000.bin", "cA_phala_tdx_b0c06f_2025-06_", 1752919234],
  ["q03_sgx_v3_phala_fmspc-00a067110000.bin", "cC_phala_sgx_00a067110000_2025-06_", 1752919277],
  ["q05_tdx_v5_td15_google_fmspc-90c06f000000.bin", "cB_phala_tdx_90c06f_2026-02_", 1774003274],
  [
    "q08_tdx_v4_automata_fmspc-00806f050000.bin",
    "cF_automata_tdx_00806f050000_2025-06_",
    1749095100,
  ],
  [
    "q10_sgx_v3_automata_fmspc-00606a000000.bin",
    "cG_automata_sgx_00606a000000_2025-08_",
    1755236700,
  ],
];

interface Case {
  quote: Uint8Array;
  collateral: Collateral;
  time: number;
}

async function rate(fn: (c: Case) => unknown, cases: Case[], ms = 1000): Promise<number> {
  for (const c of cases) await fn(c); // warm-up (JIT, module caches)
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (const c of cases) await fn(c);
    n += cases.length;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Runs the TEE benchmarks and prints each figure next to dcap-qvl. */
export async function run(): Promise<void> {
  console.log("## tee (anchor: @phala/dcap-qvl 0.3.9, same quotes, same run)");
  const cases: Case[] = CASES.map(([q, c, t]) => ({
    quote: Deno.readFileSync(VECTORS + q),
    collateral: JSON.parse(Deno.readTextFileSync(VECTORS + c + "collateral.json")),
    time: t,
  }));
  const goal = { ratio: 1, higherIsBetter: true };

  const parseTheirs = await rate((c) => dcap.Quote.parse(c.quote), cases);
  const parseOurs = await rate((c) => parseQuote(c.quote), cases);
  report("parse quote (PCK chain cache warm)", parseOurs, parseTheirs, "quotes/s", goal);
  // Variants whose PEM differs only in line endings ("\n" → "\r") defeat the
  // parsed-chain cache (256 entries), so every parse decodes the X.509 chain.
  const variants: Case[] = [];
  for (const c of cases) {
    const pemAt = new TextDecoder("latin1").decode(c.quote).indexOf("-----BEGIN CERTIFICATE");
    const newlines = c.quote.reduce<number[]>(
      (a, b, i) => (b === 10 && i > pemAt ? [...a, i] : a),
      [],
    );
    for (let i = 0; i < 120; i++) {
      const v = c.quote.slice();
      v[newlines[i]] = 13;
      variants.push({ ...c, quote: v });
    }
  }
  const parseCold = await rate((c) => parseQuote(c.quote), variants);
  // dcap-qvl's Quote.parse leaves the PCK chain as text; the like-for-like
  // anchor adds its own certificate decoding and SGX extension parsing.
  const parseColdTheirs = await rate((c) => {
    const q = dcap.Quote.parse(c.quote);
    const certs = dcap.utils.extractCerts(
      q.rawCertChain() as Parameters<typeof dcap.utils.extractCerts>[0],
    );
    for (const der of certs) dcap.utils.Certificate.decode(der, "der");
    // (intel.parsePckExtension throws on these certificates; this is what verify() uses)
    const ext = dcap.utils.getIntelExtension(certs[0]);
    return [dcap.utils.getFmspc(ext), dcap.utils.getCpuSvn(ext), dcap.utils.getPceSvn(ext)];
  }, variants);
  report("parse quote, cold (X.509 of PCK chain)", parseCold, parseColdTheirs, "quotes/s", goal);

  const theirs = (c: Case) =>
    dcap.verify(c.quote, c.collateral as Parameters<typeof dcap.verify>[1], c.time);
  const verifyTheirs = await rate(theirs, cases, 1500);
  const cold = await rate(
    (c) => new QuoteVerifier().verify(c.quote, c.collateral, { now: c.time * 1000 }),
    cases,
    1500,
  );
  report("full verification, cold caches", cold, verifyTheirs, "verifs/s", goal);
  const warmVerifier = new QuoteVerifier();
  const warm = await rate(
    (c) => warmVerifier.verify(c.quote, c.collateral, { now: c.time * 1000 }),
    cases,
    1500,
  );
  report("full verification, warm caches", warm, verifyTheirs, "verifs/s", goal);

  // ECDSA P-256 backend choice (one quote signature over 632 bytes).
  const msg = cases[0].quote.slice(0, 632);
  const sk = p256.utils.randomSecretKey();
  const pk = p256.getPublicKey(sk, false);
  const sig = p256.sign(msg, sk, { lowS: false });
  const key = await crypto.subtle.importKey(
    "raw",
    pk,
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const one: Case[] = [cases[0]];
  const web = await rate(
    () => crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, msg),
    one,
    500,
  );
  const noble = await rate(() => p256.verify(sig, msg, pk, { lowS: false }), one, 500);
  report("P-256 verify: WebCrypto (used) vs noble", web, noble, "verifies/s");
  figure("dcap-qvl time per verification", 1000 / verifyTheirs, "ms");
  figure("warm verification time", 1000 / warm, "ms");
}

if (import.meta.main) await run();
