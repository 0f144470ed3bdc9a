// Test-only helpers: locate and load the shared DCAP vectors.
import type { Collateral } from "./collateral.ts";

/** Directory of the shared TDX vectors (override with MOSAIK_TDX_VECTORS). */
export const VECTORS = Deno.env.get("MOSAIK_TDX_VECTORS") ??
  new URL("../../shared/vectors/tdx/", import.meta.url).pathname;

/** One entry of INDEX.json. */
export interface VectorEntry {
  quote: string;
  collateral: string | null;
  time_unix: number;
  expected: string;
  independent_result: string;
  dcap_qvl_js_0_5_2?: string;
}

/** Reads INDEX.json. */
export function vectorIndex(): VectorEntry[] {
  return JSON.parse(Deno.readTextFileSync(VECTORS + "INDEX.json")).vectors;
}

/** Reads a quote file. */
export function readQuote(name: string): Uint8Array {
  return Deno.readFileSync(VECTORS + name);
}

/** Reads the sidecar of a quote. */
export function sidecar(name: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(VECTORS + name + ".meta.json"));
}

/** Reads a collateral bundle by prefix. */
export function readCollateral(prefix: string): Collateral {
  return JSON.parse(Deno.readTextFileSync(VECTORS + prefix + "collateral.json"));
}

/** Every quote file in the vectors directory. */
export function quoteFiles(): string[] {
  return [...Deno.readDirSync(VECTORS)].map((e) => e.name).filter((n) => /^q.*\.bin$/.test(n))
    .sort();
}
