// The MessagePack extension types mosaik adds (Map, Set, BigInt), and the
// search for the path of a value the codec cannot carry.
import { Decoder, Encoder, type ExtData, ExtensionCodec } from "@msgpack/msgpack";
import { DecodeError, EncodeError } from "./errors.ts";
import { EXT_BIGINT, EXT_MAP, EXT_SET, MAX_BIGINT_BYTES } from "./_scan.ts";

/**
 * The encoder asks the extensions about every object it meets, and none of
 * them takes an array, a byte view or a plain object: answering those at
 * once spares five checks per object of a message.
 */
class Extensions extends ExtensionCodec {
  override tryToEncode(object: unknown, context: undefined): ExtData | null {
    if (Array.isArray(object) || ArrayBuffer.isView(object)) return null;
    if (typeof object === "object" && object !== null) {
      const proto = Object.getPrototypeOf(object);
      if (proto === Object.prototype || proto === null) return null;
    }
    return super.tryToEncode(object, context);
  }
}

/** The extension types, for the codec's encoder and decoder. */
export const extensions: ExtensionCodec = new Extensions();

// Payloads are encoded and decoded with the same codec, so they nest.
const inner = {
  encoder: undefined as Encoder | undefined,
  decoder: undefined as Decoder | undefined,
};

extensions.register({
  type: EXT_MAP,
  encode: (value) => {
    if (!(value instanceof Map)) return null;
    const flat: unknown[] = [];
    for (const [k, v] of value) flat.push(k, v);
    return inner.encoder!.encode(flat);
  },
  decode: (data) => {
    const flat = inner.decoder!.decode(data);
    if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new DecodeError("malformed Map");
    const map = new Map();
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
    return map;
  },
});

extensions.register({
  type: EXT_SET,
  encode: (value) => value instanceof Set ? inner.encoder!.encode([...value]) : null,
  decode: (data) => {
    const items = inner.decoder!.decode(data);
    if (!Array.isArray(items)) throw new DecodeError("malformed Set");
    return new Set(items);
  },
});

extensions.register({
  type: EXT_BIGINT,
  encode: (value) => typeof value === "bigint" ? bigintToBytes(value) : null,
  decode: (data) => bigintFromBytes(data),
});

// Registered last: anything still unhandled that would lose its identity.
extensions.register({
  type: 127,
  encode: (value) => {
    if (unsupported(value) !== undefined) throw new EncodeError("unsupported value");
    return null;
  },
  decode: () => {
    throw new DecodeError("unknown MessagePack extension type 127");
  },
});

/** Why `value` itself (not its children) cannot be encoded faithfully, if so. */
function unsupported(value: unknown): string | undefined {
  switch (typeof value) {
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    case "number":
    case "string":
    case "boolean":
    case "bigint":
    case "undefined":
      return undefined;
  }
  if (value === null || Array.isArray(value) || ArrayBuffer.isView(value)) return undefined;
  if (value instanceof Map || value instanceof Set || value instanceof Date) return undefined;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return undefined;
  return `an instance of ${proto?.constructor?.name ?? "a class"}`;
}

/** Sets the encoder and decoder extension payloads nest through. */
export function nestWith(encoder: Encoder, decoder: Decoder): void {
  inner.encoder = encoder;
  inner.decoder = decoder;
}

/**
 * The path (`$.a.b[3]`) and kind of the first value in `root` the codec
 * cannot carry faithfully, or `undefined`.
 */
export function findUnsupported(root: unknown): { path: string; what: string } | undefined {
  const seen = new Set<unknown>();
  const walk = (value: unknown, path: string): { path: string; what: string } | undefined => {
    const what = unsupported(value);
    if (what !== undefined) return { path, what };
    if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return;
    if (seen.has(value)) return { path, what: "a circular reference" };
    seen.add(value);
    try {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = walk(value[i], `${path}[${i}]`);
          if (found) return found;
        }
      } else if (value instanceof Map) {
        let i = 0;
        for (const [k, v] of value) {
          const found = walk(k, `${path}<key ${i}>`) ?? walk(v, `${path}<${describeKey(k)}>`);
          if (found) return found;
          i++;
        }
      } else if (value instanceof Set) {
        let i = 0;
        for (const item of value) {
          const found = walk(item, `${path}<item ${i++}>`);
          if (found) return found;
        }
      } else if (!(value instanceof Date)) {
        for (const [k, v] of Object.entries(value)) {
          const found = walk(
            v,
            /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`,
          );
          if (found) return found;
        }
      }
    } finally {
      seen.delete(value);
    }
  };
  return walk(root, "$");
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

function bigintToBytes(value: bigint): Uint8Array {
  // minimal big-endian two's complement
  let n = value;
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0xffn);
    out.unshift(byte);
    n >>= 8n;
    if ((n === 0n && (byte & 0x80) === 0) || (n === -1n && (byte & 0x80) !== 0)) break;
  }
  if (out.length > MAX_BIGINT_BYTES) {
    throw new EncodeError(`a BigInt of ${out.length} bytes exceeds ${MAX_BIGINT_BYTES}`);
  }
  return new Uint8Array(out);
}

function bigintFromBytes(data: Uint8Array): bigint {
  let hex = "";
  for (const b of data) hex += b.toString(16).padStart(2, "0");
  const unsigned = BigInt(`0x${hex}`);
  return (data[0] & 0x80) !== 0 ? unsigned - (1n << BigInt(data.length * 8)) : unsigned;
}
