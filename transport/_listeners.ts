// Listener sets behind the endpoint's onConnection/onDisconnect.
import { logger } from "./log.ts";

const log = logger("transport");

type Listener<A extends unknown[]> = (...args: A) => void;

/** A set of listeners; one that throws is logged and the others still run. */
export function listeners<A extends unknown[]>() {
  const set = new Set<Listener<A>>();
  return {
    add(fn: Listener<A>): () => void {
      set.add(fn);
      return () => set.delete(fn);
    },
    emit(...args: A): void {
      for (const fn of set) {
        try {
          fn(...args);
        } catch (e) {
          log.error("a connection listener threw", e);
        }
      }
    },
  };
}
