// Helpers shared by the collection state machines: canonical identities of
// keys, byte equality of values and freezing of stored values.
import { encode } from "@mosaik/transport";

/** The identity of a key in the machines' JS Maps. */
export type KeyId = string | number;

/**
 * The identity of a key: equal keys (equal MessagePack encodings) get equal
 * ids. Safe integers and strings are their own ids (a string starting with
 * NUL is escaped); any other key is its encoding as a NUL-prefixed string.
 */
export function keyId(key: unknown): KeyId {
  if (typeof key === "string") return key.charCodeAt(0) === 0 ? "\0s" + key : key;
  if (typeof key === "number" && Number.isSafeInteger(key)) return key;
  const bytes = encode(key);
  let out = "\0b";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/** {@linkcode keyId} for reads: a key that cannot be encoded is in no collection. */
export function lookupId(key: unknown): KeyId {
  try {
    return keyId(key);
  } catch {
    return "\0x"; // no stored key has this id
  }
}

/** Whether two values have the same MessagePack encoding. */
export function sameBytes(a: unknown, b: unknown): boolean {
  if (a === b && (typeof a !== "object" || a === null)) return true;
  const x = encode(a), y = encode(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Freezes a decoded value in place (stored values are shared with readers). */
export function freeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value)) return value; // typed arrays cannot be frozen
  Object.freeze(value);
  for (const v of Object.values(value)) freeze(v);
  return value;
}

/** Whether `x` is a non-negative safe integer (an index or a length). */
export function isIndex(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}
