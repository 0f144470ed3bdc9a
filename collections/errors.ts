/**
 * Typed errors of `@mosaik/collections`.
 *
 * @module
 */
import { MosaikError } from "@mosaik/transport";
import { GroupOfflineError, NotMemberError, TimeoutError } from "@mosaik/groups";

/** Why a write failed; see {@linkcode WriteError}. */
export type WriteErrorReason = "offline" | "timeout" | "encoding" | "too-large" | "closed";

/**
 * A write failed. `input` hands the caller's own arguments back for a retry.
 *
 * - `"offline"`: no leader was reachable; the write was not applied.
 * - `"timeout"`: not confirmed in time; it may still be applied later.
 * - `"encoding"`: the input is not MessagePack-encodable; nothing was sent.
 * - `"too-large"`: the command exceeds `maxCommandBytes`; nothing was sent.
 * - `"closed"`: the handle (or its node) is closed; nothing was sent.
 *
 * @example
 * ```ts ignore
 * try {
 *   await map.insert("alice", 100);
 * } catch (e) {
 *   if (e instanceof WriteError && e.reason === "offline") retryLater(e.input);
 * }
 * ```
 */
export class WriteError<T = unknown> extends MosaikError {
  /** Why the write failed. */
  readonly reason: WriteErrorReason;
  /** The arguments of the failed write, handed back. */
  readonly input: T;

  /** Creates an error with its reason, the caller's input and an optional cause. */
  constructor(reason: WriteErrorReason, input: T, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    this.input = input;
  }

  /** Classifies an error of `group.execute`. */
  static from<T>(cause: unknown, input: T): WriteError<T> {
    if (cause instanceof WriteError) return new WriteError(cause.reason, input, cause.message);
    const message = (cause as Error)?.message ?? String(cause);
    if (cause instanceof TimeoutError) return new WriteError("timeout", input, message, { cause });
    if (cause instanceof GroupOfflineError || cause instanceof NotMemberError) {
      return new WriteError("offline", input, message, { cause });
    }
    return new WriteError("encoding", input, message, { cause });
  }
}
