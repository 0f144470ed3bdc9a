/**
 * A hand-rolled Mainline DHT (BEP 5) client and server for Deno: strict
 * bencode, BEP 42 node ids and BEP 44 items.
 *
 * @example
 * ```ts
 * import { decode, encode } from "@mosaik/discovery/dht";
 * const bytes = encode({ y: "q", q: "ping" });
 * console.assert(bytes.length > 0 && decode(bytes) !== undefined);
 * ```
 *
 * @module
 */
export * from "./bencode.ts";
export * from "./bep42.ts";
export * from "./bep44.ts";
export { DecodeError, MosaikError } from "@mosaik/transport";
export * from "./krpc.ts";
export * from "./node.ts";
