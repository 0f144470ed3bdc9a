/**
 * Errors of `@mosaik/network`.
 *
 * @module
 */
import { MosaikError } from "@mosaik/transport";

/**
 * The options given to {@linkcode Network.create} (or the runtime it runs in)
 * cannot work. The message says what was wrong and what is expected, e.g.
 * `Cannot create network: unknown option 'mdsn' (did you mean 'mdns'?)`.
 *
 * @example
 * ```ts
 * import { ConfigError, Network } from "@mosaik/network";
 * try {
 *   // deno-lint-ignore no-explicit-any
 *   await Network.create("my-app", { mdsn: false } as any);
 * } catch (e) {
 *   console.assert(e instanceof ConfigError);
 * }
 * ```
 */
export class ConfigError extends MosaikError {
  /** The option at fault, as a dotted path (`"dht.bootstrap"`), if any. */
  readonly option?: string;

  /** Creates an error about `option` (prefixes the message with "Cannot create network: "). */
  constructor(message: string, option?: string) {
    super(`Cannot create network: ${message}`);
    this.option = option;
  }
}
