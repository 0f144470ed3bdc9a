// Temporary until @mosaik/transport exports its codec.
import { Decoder, Encoder } from "@msgpack/msgpack";
import { DecodeError } from "@mosaik/transport";
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}
export function decode<T = unknown>(bytes: Uint8Array): T {
  try {
    return decoder.decode(bytes) as T;
  } catch (cause) {
    throw new DecodeError("malformed MessagePack", { cause });
  }
}
