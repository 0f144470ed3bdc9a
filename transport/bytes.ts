/**
 * Small byte-array helpers shared by every package.
 *
 * @module
 */

/**
 * Whether two byte arrays hold the same bytes (not constant-time: never use
 * it to compare secrets).
 *
 * @example
 * ```ts
 * import { equalBytes } from "@mosaik/transport";
 * console.assert(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
 * ```
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Joins byte arrays into one new array.
 *
 * @example
 * ```ts
 * import { concatBytes } from "@mosaik/transport";
 * console.assert(concatBytes(new Uint8Array([1]), new Uint8Array([2])).length === 2);
 * ```
 */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
