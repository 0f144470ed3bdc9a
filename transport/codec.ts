/**
 * Standard MessagePack codec used on every wire.
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
import { DecodeError } from "./errors.ts";

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/**
 * Encodes a value as standard MessagePack. `Uint8Array` stays binary;
 * `undefined` object fields are left out.
 *
 * @example
 * ```ts
 * import { decode, encode } from "@mosaik/transport";
 * const bytes = encode({ hello: "world" });
 * console.assert((decode(bytes) as { hello: string }).hello === "world");
 * ```
 */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes one MessagePack value that fills `bytes` exactly; throws
 * {@linkcode DecodeError} on malformed input or trailing bytes.
 */
export function decode<T = unknown>(bytes: Uint8Array): T {
  try {
    return decoder.decode(bytes) as T;
  } catch (cause) {
    throw new DecodeError("malformed MessagePack", { cause });
  }
}
