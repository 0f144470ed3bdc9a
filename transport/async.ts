/**
 * The one async toolkit of the workspace: deadlines that throw
 * {@linkcode TimeoutError}, abortable waits, and the {@linkcode Waiter} behind
 * every `when.*` promise.
 *
 * Conventions every package follows:
 * - durations are plain numbers of milliseconds, and option names carry no
 *   unit suffix (`handshakeTimeout`, `gracePeriod`, `lagTimeout`);
 * - every call that waits takes {@linkcode WaitOptions} (`{ signal }`) as its
 *   last argument and rejects with the signal's reason when it is aborted;
 * - a wait on a closed object rejects with {@linkcode ClosedError} (or a
 *   subclass).
 *
 * @module
 */
import { ClosedError, TimeoutError } from "./errors.ts";

/** The last argument of every waiting call. */
export interface WaitOptions {
  /** Aborts the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Settles like `promise`, or rejects with the signal's reason once `signal`
 * aborts. The underlying work is not cancelled; only the wait is.
 *
 * @example
 * ```ts
 * import { abortable } from "@mosaik/transport";
 * const controller = new AbortController();
 * const waiting = abortable(new Promise(() => {}), controller.signal);
 * controller.abort(new Error("stop"));
 * await waiting.catch((e) => console.assert(e.message === "stop"));
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Settles like `promise`, or rejects with {@linkcode TimeoutError} after `ms`
 * milliseconds (or with the signal's reason when aborted first). The timer is
 * cleared as soon as the promise settles, so it never holds a process open.
 *
 * @example
 * ```ts
 * import { deadline, TimeoutError } from "@mosaik/transport";
 * const late = deadline(new Promise(() => {}), 10);
 * await late.catch((e) => console.assert(e instanceof TimeoutError));
 * console.assert(await deadline(Promise.resolve(1), 10) === 1);
 * ```
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  options: WaitOptions = {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return abortable(Promise.race([promise, timeout]), options.signal).finally(() =>
    clearTimeout(timer)
  );
}

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason when
 * aborted first (and clears its timer).
 *
 * @example
 * ```ts
 * import { delay } from "@mosaik/transport";
 * await delay(1);
 * ```
 */
export function delay(ms: number, options: WaitOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Pending {
  check(): boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Promises that resolve when a condition over some state becomes true. Purely
 * event-driven: the owner calls {@linkcode Waiter.notify} after every change
 * and {@linkcode Waiter.close} when it closes; nothing polls.
 *
 * @example
 * ```ts
 * import { Waiter } from "@mosaik/transport";
 * let peers = 0;
 * const waiter = new Waiter();
 * const ready = waiter.wait(() => peers >= 2);
 * peers = 2;
 * waiter.notify();
 * await ready;
 * ```
 */
export class Waiter {
  #pending = new Set<Pending>();
  #closed: unknown = undefined;

  /**
   * Resolves once `check()` is true (at once if it already is); rejects
   * with the close error after {@linkcode Waiter.close}, or with the signal's
   * reason when aborted. A `check` that throws rejects the wait.
   */
  wait(check: () => boolean, options: WaitOptions = {}): Promise<void> {
    const { signal } = options;
    try {
      if (check()) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#pending.delete(pending);
        signal?.removeEventListener("abort", onAbort);
      };
      const pending: Pending = {
        check,
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = () => pending.reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.add(pending);
    });
  }

  /** How many waits are pending. */
  get size(): number {
    return this.#pending.size;
  }

  /** Re-checks every pending wait; call it after each change of the state. */
  notify(): void {
    for (const pending of [...this.#pending]) {
      let met: boolean;
      try {
        met = pending.check();
      } catch (error) {
        pending.reject(error);
        continue;
      }
      if (met) pending.resolve();
    }
  }

  /**
   * Rejects every pending and future wait with `error` (default a
   * {@linkcode ClosedError}).
   */
  close(error: unknown = new ClosedError("closed")): void {
    this.#closed = error;
    for (const pending of [...this.#pending]) pending.reject(error);
  }
}
