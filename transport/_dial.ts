/**
 * Dialing several addresses of one peer the Happy Eyeballs way (RFC 8305):
 * the next address starts every `stagger` ms while none answered, the first
 * to connect wins and the rest give up. An address that does not answer
 * (another interface's, a NAT's private one) then costs a quarter second,
 * not a whole handshake timeout, before a reachable one (or the relay) is
 * tried.
 *
 * @module
 */
import { delay } from "./async.ts";

/** Milliseconds between the starts of two dial attempts. */
export const DIAL_STAGGER = 250;

/**
 * Runs `attempt` for each of `addresses`, staggered; resolves with the first
 * success. `lost()` tells a late attempt that another one won, so it closes
 * what it opened and throws. An error for which `fatal` is true ends the
 * race at once with it; when every attempt failed, rejects with their errors
 * (the one error, or an `AggregateError`).
 */
export function staggered<T>(
  addresses: readonly string[],
  attempt: (address: string, lost: () => boolean) => Promise<T>,
  fatal: (error: unknown) => boolean,
  stagger = DIAL_STAGGER,
): Promise<T> {
  const stop = new AbortController();
  const errors: unknown[] = [];
  let left = addresses.length;
  return new Promise<T>((resolve, reject) => {
    const settle = (done: () => void) => {
      if (stop.signal.aborted) return;
      stop.abort();
      done();
    };
    addresses.forEach((address, i) => {
      // the first starts now: even a zero timer costs a millisecond or more
      const start = i === 0 ? Promise.resolve() : delay(i * stagger, { signal: stop.signal });
      start.then(
        () =>
          attempt(address, () => stop.signal.aborted).then(
            (value) => settle(() => resolve(value)),
            (e) => {
              if (fatal(e)) return settle(() => reject(e));
              errors.push(e);
              if (--left === 0) {
                settle(() => reject(errors.length === 1 ? errors[0] : new AggregateError(errors)));
              }
            },
          ),
        () => {}, // not started: another attempt settled the race
      );
    });
  });
}
