// Test-only helpers: locate and load the DCAP vectors in testdata/tdx/.
import { concatBytes } from "@mosaik/transport";
import type { Collateral } from "./collateral.ts";

/** Directory of the TDX vectors (override with MOSAIK_TDX_VECTORS). */
export const VECTORS = Deno.env.get("MOSAIK_TDX_VECTORS") ??
  new URL("./testdata/tdx/", import.meta.url).pathname;

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

/** Little-endian u16. */
export function u16le(v: number): Uint8Array {
  return new Uint8Array([v & 0xff, v >> 8]);
}

/** Little-endian u32. */
export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** Concatenates byte arrays. */

/**
 * Rebuilds a v4 TD 1.0 quote with other inner certification data. The
 * certification data is not covered by any signature, so the result still
 * verifies when given the PCK chain from elsewhere.
 */
export function withCertificationData(v4: Uint8Array, type: number, data: Uint8Array): Uint8Array {
  const authLen = v4[1218] | (v4[1219] << 8);
  const qeSection = v4.subarray(770, 770 + 384 + 64 + 2 + authLen);
  const inner = concatBytes(qeSection, u16le(type), u32le(data.length), data);
  const sigData = concatBytes(v4.subarray(636, 636 + 128), u16le(6), u32le(inner.length), inner);
  return concatBytes(v4.subarray(0, 632), u32le(sigData.length), sigData);
}
