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
import type { PeerId } from "./ids.ts";
import { certificateHash, serverName } from "./_cert.ts";
import { handshakeDeadline } from "./_handshake.ts";
import { Turns } from "./turns.ts";

/** First pause before dialing an acceptor again that refused us for being busy; it doubles. */
export const BUSY_RETRY = 50;

/**
 * Whether a QUIC dial was refused before TLS: the acceptor has as many
 * handshakes under way as it takes (`maxPendingHandshakes`), perhaps under a
 * flood of connections that never authenticate. Worth another try shortly.
 */
function refusedBusy(e: unknown): boolean {
  return e instanceof Error && e.message.includes("refused to accept a new connection");
}

/**
 * Runs `dial` until it does not fail with a busy acceptor's refusal, pausing
 * {@linkcode BUSY_RETRY} ms (doubling, jittered, at most a second) between
 * tries, for at most `budget` ms in all; `dial` gets the time left. Gives up
 * at once when `lost()` (another address answered).
 */
export async function retryBusy<T>(
  dial: (left: number) => Promise<T>,
  budget: number,
  lost: () => boolean,
): Promise<T> {
  const until = performance.now() + budget;
  for (let pause = BUSY_RETRY;; pause = Math.min(pause * 2, 1_000)) {
    try {
      return await dial(Math.max(1, until - performance.now()));
    } catch (e) {
      const wait = pause * (0.5 + Math.random());
      if (!refusedBusy(e) || lost() || performance.now() + wait >= until) throw e;
      await delay(wait);
    }
  }
}

/**
 * QUIC handshakes this process runs at once to one acceptor address. Each
 * starts with a 1200-byte Initial: hundreds at once (nodes of one process
 * joining through one contact) overflow the acceptor's UDP receive buffer
 * (about 208 KiB by default on Linux; Deno cannot raise it), and every lost
 * Initial waits out QUIC's first probe timeout (a third of a second, then
 * one, then three). 199 endpoints of one process dialing one at once took
 * 3.2 s that way (344 datagrams dropped), 0.52 s paced 16 at once (none
 * dropped; 32 at once dropped 145).
 */
export const DIALS_AT_ONCE = 16;

/**
 * QUIC handshakes this process runs at once over all addresses: each costs
 * the process about 2 ms of CPU, and its acceptor's share too when both ends
 * are in one process. With only {@linkcode DIALS_AT_ONCE} in all, the dials
 * of 200 nodes of one process joining through one contact queued behind
 * each other for 1-2.6 s (a median of 19.3 s until all saw all, four runs);
 * with no limit but the one per address, the dials among the joiners ran
 * beside the joins and 50 nodes converged later (a median of 836 ms against
 * 808 ms, eight runs each). 48 at once: 16.8 s and 812 ms.
 */
export const DIALS_IN_PROCESS = 48;

/**
 * Milliseconds a handshake keeps its turn at most: what is paced is the burst
 * of Initials, so a dial to an address that never answers must not hold a
 * turn (and stall other dials) for a whole handshake timeout.
 */
export const DIAL_TURN = 50;

const inProcess = new Turns(DIALS_IN_PROCESS);
/** Per acceptor address with handshakes under way. */
const perAddress = new Map<string, Turns>();

/**
 * Runs `handshake` once fewer than {@linkcode DIALS_AT_ONCE} handshakes of
 * this process to `address`, and fewer than {@linkcode DIALS_IN_PROCESS} in
 * all, started in the last {@linkcode DIAL_TURN} ms are under way.
 */
export async function paced<T>(address: string, handshake: () => Promise<T>): Promise<T> {
  let here = perAddress.get(address);
  if (!here) perAddress.set(address, here = new Turns(DIALS_AT_ONCE));
  const at = here;
  // a free turn is taken synchronously: dials started together start in order
  const mine = at.now() ?? await at.take()!;
  const any = inProcess.now() ?? await inProcess.take()!;
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    any();
    mine();
    if (at.idle && perAddress.get(address) === at) perAddress.delete(address);
  };
  const timer = setTimeout(release, DIAL_TURN);
  try {
    return await handshake();
  } finally {
    clearTimeout(timer);
    release();
  }
}

/**
 * A QUIC connection to `peer` with `options` (address, endpoint, transport
 * settings), trusting only `peer`'s key; tried again while the acceptor is
 * busy ({@linkcode retryBusy}), within `budget` ms in all. At most
 * {@linkcode DIALS_AT_ONCE} handshakes of the process to one address, and
 * {@linkcode DIALS_IN_PROCESS} in all, run at once.
 */
export function dialPinned(
  peer: PeerId,
  options: Omit<Deno.ConnectQuicOptions<false>, "serverName" | "caCerts">,
  budget: number,
  lost: () => boolean,
): Promise<Deno.QuicConn> {
  // serverCertificateHashes: missing from Deno's types of connectQuic, but the
  // runtime takes it there as for WebTransport (why it pins: _cert.ts)
  const pinned = {
    ...options,
    serverName: serverName(peer),
    serverCertificateHashes: [certificateHash(peer)],
  };
  return retryBusy(
    (left) => {
      const until = performance.now() + left; // a wait for a turn counts against the budget
      return paced(
        `${options.hostname}:${options.port}`,
        () => handshakeDeadline(Deno.connectQuic(pinned), Math.max(1, until - performance.now())),
      );
    },
    budget,
    lost,
  );
}

/** Milliseconds between the starts of two dial attempts. */
export const DIAL_STAGGER = 250;

/**
 * Runs `attempt` for each of `addresses`, staggered; resolves with the first
 * success. `lost()` tells a late attempt that another one won, so it closes
 * what it opened and throws. When every attempt failed, rejects with their
 * errors (the one error, or an `AggregateError`). (Refusals by the acceptor
 * come after the race, on the connection: no attempt waits for them.)
 */
export function staggered<T>(
  addresses: readonly string[],
  attempt: (address: string, lost: () => boolean) => Promise<T>,
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
