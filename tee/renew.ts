/**
 * Keeping this node's own ticket fresh. The ticket contract itself
 * (`Ticket`, `TicketValidator`, `requireTicket`, …) lives in
 * `@mosaik/transport` and is re-exported here.
 *
 * @module
 */
import { scheduleAt, type Ticket, TicketExpiryError } from "@mosaik/transport";

/** Options of {@linkcode renewTicket}. */
export interface RenewTicketOptions {
  /** Makes a fresh ticket (a JWT from an issuer service, a TDX ticket over a new quote, …). */
  issue: () => Ticket | Promise<Ticket>;
  /** Publishes it, typically `network.discovery.local.setTicket`. */
  publish: (ticket: Ticket) => void;
  /**
   * How long before expiry to renew, in ms. Default: a fifth of the ticket's
   * lifetime, at most one minute.
   */
  margin?: number;
  /** Delay before retrying after `issue` failed, in ms. Default 5000. */
  retryDelay?: number;
  /** Called with every error of `issue` or `publish` (the renewal keeps retrying). */
  onError?: (error: unknown) => void;
}

/**
 * Keeps this node's ticket of one kind fresh: issues and publishes a ticket
 * now, then again shortly before each one expires, so peers that gate on it
 * (and disconnect at expiry) keep serving this node. Stop it with `stop()` or
 * `using`.
 *
 * @example
 * ```ts
 * import { JwtIssuer, renewTicket } from "@mosaik/tee";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const issuer = JwtIssuer.generate("EdDSA");
 * const me = SecretKey.generate().peerId;
 * using renewal = renewTicket({
 *   issue: () => issuer.issue({ peerId: me, networkId: networkId("demo"), expiresIn: 600_000 }),
 *   publish: (ticket) => console.log("publish", ticket.kind), // discovery.local.setTicket
 * });
 * await renewal.ready;
 * ```
 */
export function renewTicket(options: RenewTicketOptions): TicketRenewal {
  return new TicketRenewal(options);
}

/** A running {@linkcode renewTicket} loop. */
export class TicketRenewal implements Disposable {
  /** Resolves with the first ticket published (rejects if stopped before). */
  readonly ready: Promise<Ticket>;
  #current: Ticket | undefined;
  #cancelTimer: (() => void) | undefined;
  #stopped = false;
  #resolve!: (t: Ticket) => void;
  #reject!: (e: unknown) => void;
  readonly #options: RenewTicketOptions;

  /** Starts renewing; prefer {@linkcode renewTicket}. */
  constructor(options: RenewTicketOptions) {
    this.#options = options;
    this.ready = new Promise<Ticket>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => {}); // stopping early is not an unhandled rejection
    this.#cycle();
  }

  /** The ticket published last, if any. */
  get current(): Ticket | undefined {
    return this.#current;
  }

  async #cycle(): Promise<void> {
    this.#cancelTimer = undefined;
    if (this.#stopped) return;
    const started = Date.now();
    let next: number;
    try {
      const ticket = await this.#options.issue();
      if (this.#stopped) return;
      this.#options.publish(ticket);
      this.#current = ticket;
      this.#resolve(ticket);
      if (ticket.expiresAt === undefined) return; // never expires: nothing to renew
      const lifetime = Math.max(0, ticket.expiresAt - started);
      const margin = this.#options.margin ?? Math.min(60_000, lifetime / 5);
      next = Math.max(0, ticket.expiresAt - margin - Date.now());
    } catch (error) {
      if (this.#stopped) return;
      this.#options.onError?.(error);
      next = this.#options.retryDelay ?? 5_000;
    }
    this.#cancelTimer = scheduleAt(Date.now() + next, () => this.#cycle());
  }

  /** Stops renewing (the published ticket stays until it expires). */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#reject(new TicketExpiryError("ticket renewal stopped"));
  }

  /** Same as {@linkcode TicketRenewal.stop}. */
  [Symbol.dispose](): void {
    this.stop();
  }
}
