/**
 * Typed errors shared by every mosaik package.
 *
 * @module
 */

/**
 * Base class of every error thrown by mosaik packages, so callers can tell
 * library failures apart from their own.
 *
 * @example
 * ```ts
 * import { MosaikError } from "@mosaik/transport";
 * try {
 *   throw new MosaikError("boom");
 * } catch (e) {
 *   console.assert(e instanceof MosaikError);
 * }
 * ```
 */
export class MosaikError extends Error {
  /** Creates an error with a message and an optional cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input bytes could not be decoded (bad MessagePack, bad id, bad key). */
export class DecodeError extends MosaikError {}

/**
 * A value cannot be encoded faithfully (a class instance, a function, a
 * circular reference, …); the message names its path, e.g. `$.a.b[3]`.
 */
export class EncodeError extends MosaikError {}

/** A frame exceeded the configured maximum size. */
export class FrameTooLargeError extends DecodeError {
  /** Creates the error for a frame of `size` bytes against `max`. */
  constructor(readonly size: number, readonly max: number) {
    super(`frame of ${size} bytes exceeds the maximum of ${max}`);
  }
}

/** A stream ended in the middle of a frame. */
export class TruncatedFrameError extends DecodeError {}

/**
 * A resource limit of this node was reached (see `ResourceLimits`): not the
 * remote's fault, so never counted as its offence.
 */
export class ResourceLimitError extends MosaikError {}

/** A connection could not be opened or was refused by the remote peer. */
export class ConnectError extends MosaikError {
  /** Creates the error, with the close code the peer sent if there was one. */
  constructor(message: string, readonly closeCode?: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** An operation did not complete within its time limit. */
export class TimeoutError extends MosaikError {}

/** The object was used after it was closed. */
export class ClosedError extends MosaikError {}
