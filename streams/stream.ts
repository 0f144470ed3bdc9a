/**
 * Stream declarations: a name, a codec and an optional schema, from which
 * every node derives the same {@linkcode StreamId} with no coordination.
 *
 * @module
 */
import {
  copyBytes,
  decode,
  DecodeError,
  derive,
  digest,
  encode,
  type StreamId,
} from "@mosaik/transport";
import type { ConsumerOptions } from "./consumer.ts";
import type { ProducerOptions } from "./producer.ts";

/**
 * Turns datums into bytes and back. `decode` must throw (ideally a
 * {@linkcode DecodeError}) on bytes it cannot read; it must never hang.
 */
export interface Codec<T> {
  /** Encodes one datum. */
  encode(value: T): Uint8Array;
  /** Decodes one datum; throws on malformed input. */
  decode(bytes: Uint8Array): T;
  /**
   * `decode` returns nothing that shares memory with the bytes it was given
   * (it copies what it keeps): a consumer then reads batch frames into one
   * reused buffer instead of a new one each. Default `false`.
   */
  readonly copies?: boolean;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Codecs whose `encode` is transport's `encode`: a producer encodes their
 * datums with `encodeView` and keeps a `copyBytes` copy, cut from a shared
 * slab, instead of a buffer of its own per datum (docs/performance.md).
 */
export const VIEW_ENCODERS: WeakSet<object> = new WeakSet();

/**
 * Ready-made codecs.
 *
 * @example
 * ```ts
 * import { codecs, stream } from "@mosaik/streams";
 * const Raw = stream("raw-frames", { codec: codecs.bytes });
 * const Logs = stream("logs", { codec: codecs.text });
 * ```
 */
export const codecs: {
  /** Standard MessagePack (the default); `Uint8Array` stays binary. */
  msgpack<T>(): Codec<T>;
  /** Raw bytes, passed through (decoding copies the bytes). */
  readonly bytes: Codec<Uint8Array>;
  /** UTF-8 text; invalid UTF-8 is rejected. */
  readonly text: Codec<string>;
} = {
  msgpack<T>(): Codec<T> {
    const codec = {
      encode: (value: T) => encode(value),
      decode: (bytes: Uint8Array) => decode<T>(bytes),
    };
    VIEW_ENCODERS.add(codec);
    return codec;
  },
  bytes: {
    encode: (value: Uint8Array) => value,
    decode: (bytes: Uint8Array) => copyBytes(bytes),
    copies: true,
  },
  text: {
    encode: (value: string) => textEncoder.encode(value),
    decode: (bytes: Uint8Array) => {
      try {
        return textDecoder.decode(bytes);
      } catch (cause) {
        throw new DecodeError("invalid UTF-8 datum", { cause });
      }
    },
    copies: true,
  },
};

/** Options of {@linkcode stream}. */
export interface StreamOptions<T> {
  /** How datums are encoded on the wire. Default: MessagePack. */
  codec?: Codec<T>;
  /**
   * Name and version of the datum type, e.g. `"price/v2"`. It goes into the
   * stream id, so producers and consumers of different schemas never meet.
   */
  schema?: string;
  /**
   * Defaults for every producer of this declaration; options passed to
   * `produce` override them, except `require` and `requireTicket`, which add
   * up (all must hold). Here `require` is what *consumers* must satisfy.
   */
  producer?: ProducerOptions<T>;
  /**
   * Defaults for every consumer of this declaration, merged the same way;
   * here `require` is what *producers* must satisfy.
   */
  consumer?: ConsumerOptions;
}

/** A declared stream: what {@linkcode Streams.produce} and `consume` take. */
export interface StreamDef<T> {
  /** The name the stream was declared with. */
  readonly name: string;
  /** The schema that went into the id, if any. */
  readonly schema?: string;
  /** The intent-addressed stream id. */
  readonly id: StreamId;
  /** The datum codec. */
  readonly codec: Codec<T>;
  /** Producer defaults (see {@linkcode StreamOptions.producer}). */
  readonly producer?: ProducerOptions<T>;
  /** Consumer defaults (see {@linkcode StreamOptions.consumer}). */
  readonly consumer?: ConsumerOptions;
}

/**
 * Declares a stream of `T`. The id is the digest of `name` (64 hex characters
 * are taken as the id itself, as the Rust crate does); a `schema` is derived
 * into the id, so `stream("prices", { schema: "v1" })` and `{ schema: "v2" }`
 * are different streams.
 *
 * @example
 * ```ts
 * import { stream } from "@mosaik/streams";
 * const Prices = stream<{ sym: string; px: number }>("prices", { schema: "price/v1" });
 * console.assert(Prices.id === stream("prices", { schema: "price/v1" }).id);
 * console.assert(Prices.id !== stream("prices").id);
 *
 * // defaults for both sides travel with the declaration
 * const Orders = stream<string>("orders", {
 *   producer: { maxConsumers: 4, require: (consumer) => consumer.hasTag("matcher") },
 *   consumer: { require: (producer) => producer.hasTag("trader") },
 * });
 * console.assert(Orders.producer?.maxConsumers === 4);
 * ```
 */
export function stream<T>(name: string, options: StreamOptions<T> = {}): StreamDef<T> {
  const base = digest<StreamId>(name);
  const id = options.schema === undefined
    ? base
    : derive<StreamId>(base, `mosaik.streams.schema/${options.schema}`);
  const def: StreamDef<T> = {
    name,
    id,
    codec: options.codec ?? codecs.msgpack<T>(),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.producer === undefined ? {} : { producer: options.producer }),
    ...(options.consumer === undefined ? {} : { consumer: options.consumer }),
  };
  return Object.freeze(def);
}
