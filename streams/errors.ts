/**
 * Typed errors of producers and consumers. Every send error hands the datum
 * back, so nothing is lost silently.
 *
 * @module
 */
import { ClosedError, MosaikError } from "@mosaik/transport";

/**
 * Base class of the errors {@linkcode Producer.send} and
 * {@linkcode Producer.trySend} throw while the producer is open; `datum` is
 * the value that was not sent. Once it is closed they throw
 * {@linkcode ProducerClosedError}, which carries the datum too.
 *
 * @example
 * ```ts ignore
 * try {
 *   producer.trySend(price);
 * } catch (e) {
 *   if (e instanceof SendError) retryLater(e.datum);
 * }
 * ```
 */
export class SendError<T = unknown> extends MosaikError {
  /** Creates the error around the datum that could not be sent. */
  constructor(message: string, readonly datum: T, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The producer is not online (its `onlineWhen` condition is not met). */
export class ProducerOfflineError<T = unknown> extends SendError<T> {
  /** Creates the error for `datum`. */
  constructor(datum: T) {
    super("the producer is offline", datum);
  }
}

/** A subscriber's queue is full (and it is not yet lagging long enough to be dropped). */
export class FullError<T = unknown> extends SendError<T> {
  /** Creates the error for `datum`. */
  constructor(datum: T) {
    super("the producer's queue is full", datum);
  }
}

/**
 * The producer handle (or the whole `Streams`) was closed: a
 * {@linkcode ClosedError} like every "closed" in mosaik, carrying the datum
 * that was not sent (`undefined` for waits that carried none).
 *
 * @example
 * ```ts ignore
 * try {
 *   await producer.send(price);
 * } catch (e) {
 *   if (e instanceof ClosedError) return; // shutting down; e.datum is the price
 * }
 * ```
 */
export class ProducerClosedError<T = unknown> extends ClosedError {
  /** Creates the error for `datum`. */
  constructor(readonly datum: T) {
    super("the producer is closed");
  }
}

/** The stream's codec could not encode the datum. */
export class DatumEncodeError<T = unknown> extends SendError<T> {
  /** Creates the error for `datum` with the codec's failure as cause. */
  constructor(datum: T, cause: unknown) {
    super(`the datum could not be encoded: ${cause}`, datum, { cause });
  }
}

/** The encoded datum is larger than the largest frame a subscription carries. */
export class DatumTooLargeError<T = unknown> extends SendError<T> {
  /** Creates the error for `datum` of `size` encoded bytes against `max`. */
  constructor(datum: T, readonly size: number, readonly max: number) {
    super(`an encoded datum of ${size} bytes exceeds the maximum of ${max}`, datum);
  }
}
