/**
 * The MessagePack codec used on every wire: standard MessagePack plus three
 * documented extension types, behind a decoder that bounds what hostile
 * input can cost.
 *
 * Values and what they become on the other side:
 * - `null`, booleans, numbers, strings, arrays and plain objects as usual;
 *   `undefined` object fields are left out (`undefined` in an array becomes
 *   `null`). `Uint8Array` stays binary; other typed arrays arrive as
 *   `Uint8Array` of their bytes. `Date` uses the standard timestamp (-1).
 * - `Map` is extension type 0 (payload: the array `[k1, v1, k2, v2, …]`),
 *   `Set` is type 1 (payload: the array of its items), `BigInt` of any size
 *   up to 8 KiB is type 2 (payload: big-endian two's complement, minimal).
 * - Class instances, functions, symbols and circular references throw an
 *   {@linkcode EncodeError} naming the path of the offending field
 *   (`$.a.b[3]`) instead of arriving as something else.
 *
 * Decoding checks the bytes first in one allocation-free pass
 * ({@linkcode DecodeLimits}): nesting depth, the number of values, and an
 * estimate of the decoded heap against the input size, so a frame of a
 * million nested arrays or megabytes of empty maps is refused with a
 * {@linkcode DecodeError} for the cost of reading it once. Unknown extension
 * types, reserved bytes and trailing bytes are refused too.
 *
 * `@msgpack/msgpack` was measured against `msgpackr` on a typical 130-byte
 * message (`bench/transport.ts` prints the figures): msgpackr encodes about
 * 1.9× faster, both decode at the same rate, but msgpackr accepts the
 * reserved byte 0xc1 and hands back Node `Buffer`s. A decoder that must
 * reject bad input strictly wins, and hot paths encode once per message.
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { DecodeError, EncodeError } from "./errors.ts";
import { extensions, findUnsupported, nestWith } from "./_extensions.ts";
import { type DecodeLimits, scan } from "./_scan.ts";

export type { DecodeLimits };

/**
 * Limits every {@linkcode decode} enforces unless given others: depth 128,
 * 1 Mi values, and a decoded heap of at most 12× the input (plus 1 MiB).
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxDepth: 128,
  maxElements: 1 << 20,
  maxExpansion: 12,
});

const encoder = new Encoder({
  ignoreUndefined: true,
  maxDepth: DEFAULT_DECODE_LIMITS.maxDepth,
  extensionCodec: extensions,
});
const decoder = new Decoder({ extensionCodec: extensions });
nestWith(encoder, decoder);

/**
 * Encodes a value as MessagePack (see the module doc for what each kind of
 * value becomes). Throws {@linkcode EncodeError} with the path of a value
 * that cannot be carried faithfully.
 *
 * @example
 * ```ts
 * import { decode, encode } from "@mosaik/transport";
 * const bytes = encode({ hello: "world", seen: new Set([1, 2]) });
 * const back = decode<{ hello: string; seen: Set<number> }>(bytes);
 * console.assert(back.seen.has(2));
 * ```
 */
export function encode(value: unknown): Uint8Array {
  return encoded(value, false);
}

/**
 * Like {@linkcode encode}, but returns a view into the codec's own buffer
 * instead of a new one: the next `encode` or `encodeView` overwrites it, so
 * copy the bytes before encoding anything else. It spares the allocation of
 * a small buffer, which in V8 costs more than encoding a small message.
 *
 * @example
 * ```ts
 * import { encodeView } from "@mosaik/transport";
 * const block = new Uint8Array(1024);
 * const view = encodeView({ n: 1 });
 * block.set(view); // copied before the next encode
 * ```
 */
export function encodeView(value: unknown): Uint8Array {
  return encoded(value, true);
}

function encoded(value: unknown, view: boolean): Uint8Array {
  try {
    return view ? encoder.encodeSharedRef(value) : encoder.encode(value);
  } catch (cause) {
    const found = findUnsupported(value);
    if (found) {
      throw new EncodeError(`cannot encode ${found.what} at ${found.path}`, { cause });
    }
    if (cause instanceof EncodeError) throw cause;
    throw new EncodeError(`cannot encode value: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/**
 * Decodes one MessagePack value that fills `bytes` exactly; throws
 * {@linkcode DecodeError} on malformed input, trailing bytes, unknown
 * extension types, or input beyond `limits`, before decoding any of it.
 */
export function decode<T = unknown>(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): T {
  scan(bytes, limits);
  try {
    return decoder.decode(bytes) as T;
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    throw new DecodeError("malformed MessagePack", { cause });
  }
}
