/**
 * The warning of a consumer that finds no producer (private): a consumer of a
 * stream nobody produces would otherwise wait forever without a word. After
 * `noProducerWarning` ms without a connected producer it logs one warning
 * that says what it saw; a producer connecting re-arms it.
 *
 * @module
 */
import { logger } from "@mosaik/transport";
import type { StreamDef } from "./stream.ts";

const log = logger("streams");

/** What the consumer saw in the catalog at its last look. */
export interface Sighting {
  /** Peers that advertise the stream. */
  advertised: number;
  /** Of those, the ones that passed `require` and `requireTicket`. */
  eligible: number;
}

/** One consumer's watchdog. */
export class NoProducerWarning {
  readonly #def: StreamDef<unknown>;
  readonly #after: number;
  readonly #look: () => Sighting;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #warned = false;
  #closed = false;

  /** Warns `after` ms without a producer (`Infinity` or 0: never); `look` says what was seen. */
  constructor(def: StreamDef<unknown>, after: number, look: () => Sighting) {
    this.#def = def;
    this.#after = after;
    this.#look = look;
  }

  /** Reports whether a producer is connected now. */
  update(connected: boolean): void {
    // A closing consumer untracks its subscriptions one by one: connected, then not.
    if (this.#closed) return;
    if (connected) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#warned = false;
      return;
    }
    if (this.#timer !== undefined || this.#warned) return;
    if (!(this.#after > 0 && Number.isFinite(this.#after))) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#warned = true;
      log.warn(message(this.#def, this.#after, this.#look()));
    }, this.#after);
  }

  /** Stops the watchdog. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
  }
}

function message(def: StreamDef<unknown>, after: number, seen: Sighting): string {
  const stream = `stream "${def.name}"${
    def.schema === undefined ? "" : ` (schema "${def.schema}")`
  }`;
  const head = `a consumer of ${stream} has had no producer for ${after / 1000} s: `;
  if (seen.advertised === 0) {
    return head +
      `no known peer produces it (id ${def.id.slice(0, 12)}…). The name and the schema make the ` +
      "stream id, so both sides must declare them alike; check also that the producer's node " +
      "is in the same network and was discovered.";
  }
  if (seen.eligible === 0) {
    return head +
      `${seen.advertised} peer(s) produce it but none passes this consumer's require/requireTicket.`;
  }
  return head +
    `${seen.eligible} eligible producer(s) did not accept the subscription (unreachable, full, ` +
    "or refusing this node's entry); the consumer keeps retrying.";
}
