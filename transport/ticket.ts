/**
 * The ticket model: credentials a peer publishes in its signed discovery
 * entry, and validators that streams, groups and collections consult before
 * they serve the peer.
 *
 * A {@linkcode Ticket} is opaque bytes with a `kind`. A
 * {@linkcode TicketValidator} of the same kind decides whether the ticket is
 * valid for the presenting peer on this network, and until when.
 * {@linkcode requireTicket} combines validators into the predicate hook the
 * other packages call with the remote peer's entry, and
 * {@linkcode scheduleExpiry} tells the caller when a served peer must be
 * disconnected.
 *
 * @module
 */
import { derive, type Digest, digest, type PeerId } from "./ids.ts";
import type { NetworkId } from "./vocabulary.ts";
import { MosaikError } from "./errors.ts";
import { scheduleAt } from "./timers.ts";

/**
 * A credential a peer carries in its discovery entry. Tickets are public:
 * they are bound to the holder's {@linkcode PeerId} by their content, and the
 * transport proves the PeerId, so copying another peer's ticket gains nothing.
 */
export interface Ticket {
  /** Which validator understands `data`, for example `"jwt"` or `"tdx"`; one ticket per kind. */
  readonly kind: string;
  /** The credential itself (a JWT's text, a TDX quote with its binding, …). */
  readonly data: Uint8Array;
  /** Unix time in milliseconds after which the ticket is void, if it says so. */
  readonly expiresAt?: number;
}

/** What a validator knows about the peer presenting a ticket. */
export interface TicketContext {
  /** The peer presenting the ticket (authenticated by the transport). */
  peerId: PeerId;
  /** The network the ticket must be valid for. */
  networkId: NetworkId;
  /** The time of the check. */
  now: Date;
}

/**
 * The outcome of validating one ticket. `expiresAt` is Unix time in
 * milliseconds, or `undefined` when the ticket never expires.
 */
export type TicketVerdict =
  | { ok: true; expiresAt: number | undefined }
  | { ok: false; reason: string };

/**
 * Decides whether tickets of one `kind` are valid.
 *
 * @example
 * ```ts
 * import type { TicketValidator } from "@mosaik/transport";
 * const allowAll: TicketValidator = {
 *   kind: "demo",
 *   validate: () => ({ ok: true, expiresAt: undefined }),
 * };
 * ```
 */
export interface TicketValidator {
  /** The ticket kind this validator checks; tickets of other kinds are ignored. */
  readonly kind: string;
  /**
   * A deterministic id of the validator's type and configuration, when it
   * has one. Groups fold it into their id so that nodes with different
   * ticket requirements never form one group.
   */
  readonly id?: Digest;
  /** Validates one ticket presented by `ctx.peerId`. Must not throw for bad tickets. */
  validate(
    ticket: Ticket,
    ctx: TicketContext,
  ): Promise<TicketVerdict> | TicketVerdict;
}

/** The part of a peer entry that ticket checks read. Discovery's `PeerEntry` fits. */
export interface TicketHolder {
  /** The peer's id. */
  peerId: PeerId;
  /** The tickets the peer publishes. */
  tickets: readonly Ticket[];
  /** The network the entry belongs to, when known. */
  network?: NetworkId;
}

/** Options of {@linkcode requireTicket} and {@linkcode checkTickets}. */
export interface RequireTicketOptions {
  /**
   * The local network id, used when the peer entry carries none. If both are
   * known they must be equal.
   */
  networkId?: NetworkId;
  /** The clock (milliseconds since the epoch). Default `Date.now`. */
  clock?: () => number;
}

/**
 * Validates a peer's tickets against every validator (all must pass). Each
 * validator accepts the peer if at least one of the peer's tickets of its kind
 * is valid; the validator's expiry is the latest among the accepted tickets,
 * and the result's expiry is the earliest across validators. A validator that
 * throws counts as a rejection.
 *
 * @example
 * ```ts
 * import { checkTickets } from "@mosaik/transport";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const verdict = await checkTickets([], { peerId: SecretKey.generate().peerId, tickets: [] }, {
 *   networkId: networkId("demo"),
 * });
 * console.assert(verdict.ok); // no validators: nothing to check
 * ```
 */
export async function checkTickets(
  validators: readonly TicketValidator[],
  peer: TicketHolder,
  options: RequireTicketOptions = {},
): Promise<TicketVerdict> {
  if (validators.length === 0) return { ok: true, expiresAt: undefined };
  const networkId = peer.network ?? options.networkId;
  if (networkId === undefined) {
    return { ok: false, reason: "no network id to check tickets for" };
  }
  if (options.networkId !== undefined && networkId !== options.networkId) {
    return { ok: false, reason: "peer entry belongs to another network" };
  }
  const ctx: TicketContext = {
    peerId: peer.peerId,
    networkId,
    now: new Date((options.clock ?? Date.now)()),
  };
  let earliest: number | undefined;
  for (const validator of validators) {
    const verdict = await bestTicket(validator, peer.tickets, ctx);
    if (!verdict.ok) return verdict;
    if (verdict.expiresAt !== undefined) {
      earliest = earliest === undefined ? verdict.expiresAt : Math.min(earliest, verdict.expiresAt);
    }
  }
  return { ok: true, expiresAt: earliest };
}

async function bestTicket(
  validator: TicketValidator,
  tickets: readonly Ticket[],
  ctx: TicketContext,
): Promise<TicketVerdict> {
  let best: TicketVerdict | undefined;
  let lastReason = `no ticket of kind ${JSON.stringify(validator.kind)}`;
  for (const ticket of tickets) {
    if (ticket.kind !== validator.kind) continue;
    let verdict: TicketVerdict;
    try {
      verdict = await validator.validate(ticket, ctx);
    } catch (error) {
      verdict = {
        ok: false,
        reason: error instanceof Error ? error.message : String(error),
      };
    }
    if (!verdict.ok) {
      lastReason = `${validator.kind} ticket rejected: ${verdict.reason}`;
      continue;
    }
    if (verdict.expiresAt === undefined) return verdict; // never expires: nothing beats it
    if (
      best === undefined || (best.ok && best.expiresAt! < verdict.expiresAt)
    ) best = verdict;
  }
  return best ?? { ok: false, reason: lastReason };
}

/**
 * The predicate hook that streams, groups and collections call with a remote
 * peer's entry: resolves `true` when the peer's tickets satisfy every
 * validator. Its {@linkcode TicketGate.check} also returns until when, so the
 * caller can disconnect the peer at expiry with {@linkcode scheduleExpiry}.
 */
export interface TicketGate {
  /** `true` iff the peer holds valid tickets for every validator right now. */
  (peer: TicketHolder): Promise<boolean>;
  /** The full verdict, with the time the peer must be disconnected. */
  check(peer: TicketHolder): Promise<TicketVerdict>;
  /** The validators, in order. */
  readonly validators: readonly TicketValidator[];
  /**
   * A deterministic id of the gate's configuration (derived from the
   * validators' ids), for folding into group ids; `undefined` when a
   * validator has no id.
   */
  readonly id: Digest | undefined;
}

/**
 * Makes the predicate hook that requires valid tickets from a peer. Several
 * validators mean all of them must accept (AND).
 *
 * @example
 * ```ts
 * import { networkId, requireTicket, SecretKey, type TicketValidator } from "@mosaik/transport";
 * const net = networkId("demo");
 * const password: TicketValidator = {
 *   kind: "password",
 *   validate: (t) =>
 *     new TextDecoder().decode(t.data) === "sesame"
 *       ? { ok: true, expiresAt: undefined }
 *       : { ok: false, reason: "wrong password" },
 * };
 * const gate = requireTicket(password, { networkId: net });
 * const peer = SecretKey.generate().peerId;
 * const ticket = { kind: "password", data: new TextEncoder().encode("sesame") };
 * console.assert(await gate({ peerId: peer, tickets: [ticket] }));
 * console.assert(!(await gate({ peerId: peer, tickets: [] })));
 * ```
 */
export function requireTicket(
  validators: TicketValidator | readonly TicketValidator[],
  options: RequireTicketOptions = {},
): TicketGate {
  const list = ticketValidators(validators);
  const check = (peer: TicketHolder): Promise<TicketVerdict> => checkTickets(list, peer, options);
  const gate = async (peer: TicketHolder): Promise<boolean> => (await check(peer)).ok;
  let id: Digest | undefined = digest("mosaik.tee.ticket-gate.v1");
  for (const v of list) {
    id = v.id === undefined || id === undefined ? undefined : derive(id, v.id);
  }
  return Object.assign(gate, { check, validators: list, id });
}

/** Thrown by {@linkcode scheduleExpiry} for an expiry that is not a finite number. */
export class TicketExpiryError extends MosaikError {}

// setTimeout holds at most 2^31 - 1 ms (about 24.8 days); longer waits are chained.

/**
 * Calls `onExpired` once when `expiresAt` (Unix ms) passes, which is when a
 * peer admitted by {@linkcode TicketGate.check} must be disconnected.
 * `undefined` (never expires) schedules nothing. The callback always runs
 * asynchronously, even for a time already past. Returns a function that
 * cancels the timer; call it when the peer leaves earlier.
 *
 * @example
 * ```ts
 * import { scheduleExpiry } from "@mosaik/transport";
 * const cancel = scheduleExpiry(Date.now() + 60_000, () => console.log("disconnect"));
 * cancel();
 * ```
 */
export function scheduleExpiry(
  expiresAt: number | undefined,
  onExpired: () => void,
  clock: () => number = Date.now,
): () => void {
  if (expiresAt === undefined) return () => {};
  if (!Number.isFinite(expiresAt)) {
    throw new TicketExpiryError("expiry must be a finite number");
  }
  return scheduleAt(expiresAt, onExpired, clock);
}

/**
 * The validators of a `requireTicket` option, which streams, groups and
 * collections all accept as one validator or a list (all must accept).
 *
 * @example
 * ```ts
 * import { ticketValidators } from "@mosaik/transport";
 * console.assert(ticketValidators(undefined).length === 0);
 * ```
 */
export function ticketValidators(
  option: TicketValidator | readonly TicketValidator[] | undefined,
): readonly TicketValidator[] {
  if (option === undefined) return [];
  return Array.isArray(option) ? [...option] : [option as TicketValidator];
}
