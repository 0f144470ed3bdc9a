/**
 * Strict shape checks for decoded wire values. Each throws a
 * {@linkcode DecodeError} naming what was wrong.
 *
 * @module
 */
import { DecodeError } from "@mosaik/transport";

/** Asserts an array of at most `max` items (and at least `min`). */
export function array(v: unknown, what: string, max: number, min = 0): unknown[] {
  if (!Array.isArray(v) || v.length > max || v.length < min) {
    throw new DecodeError(`${what}: expected an array of ${min}..${max} items`);
  }
  return v;
}

/** Asserts bytes of exactly `length` (or at most `max` when length is undefined). */
export function bytes(v: unknown, what: string, length?: number, max = 1 << 20): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new DecodeError(`${what}: expected bytes`);
  if (length !== undefined ? v.length !== length : v.length > max) {
    throw new DecodeError(`${what}: wrong byte length ${v.length}`);
  }
  return v;
}

/** Asserts a safe non-negative integer. */
export function uint(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new DecodeError(`${what}: expected a non-negative integer`);
  }
  return v;
}

/** Asserts a string of at most `max` characters. */
export function text(v: unknown, what: string, max: number): string {
  if (typeof v !== "string" || v.length > max) {
    throw new DecodeError(`${what}: expected a string of at most ${max} characters`);
  }
  return v;
}

/** Asserts a boolean. */
export function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") throw new DecodeError(`${what}: expected a boolean`);
  return v;
}
