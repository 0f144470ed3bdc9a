/**
 * Helpers for tests that wait on conditions instead of sleeping. Every bound
 * is scaled by the `TIME_FACTOR` environment variable (default 1), so slow
 * machines raise one number rather than editing tests.
 *
 * @example
 * ```ts
 * import { eventually } from "@mosaik/transport/testing";
 * let ready = false;
 * setTimeout(() => ready = true, 10);
 * await eventually(() => ready, { timeout: 1000 });
 * ```
 *
 * @module
 */
import { deadline, delay } from "./async.ts";
import { TimeoutError } from "./errors.ts";
import type { PeerId, SecretKey } from "./ids.ts";
import { parseHostPort } from "./address.ts";
import type { NetworkId } from "./vocabulary.ts";
import { type CertificateHash, certificateHash, nodeCertificate, serverName } from "./_cert.ts";
import { ALPN, dialerProof, proveIdentity } from "./_handshake.ts";

export type { CertificateHash };

/**
 * The ALPN an endpoint speaks, for tests that dial it with raw QUIC.
 *
 * @example
 * ```ts ignore
 * const conn = await Deno.connectQuic({ hostname, port, alpnProtocols: [MOSAIK_ALPN], ...pinnedTls(peer) });
 * ```
 */
export const MOSAIK_ALPN: string = ALPN;

/** The factor every test timeout is multiplied by (`TIME_FACTOR`, default 1). */
export function timeFactor(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("TIME_FACTOR");
  } catch {
    raw = undefined; // no --allow-env: use the default
  }
  const n = Number(raw ?? "1");
  return Number.isFinite(n) && n > 0 ? n : 1;
}

/** Options of {@linkcode eventually}. */
export interface EventuallyOptions {
  /** Milliseconds before giving up, before scaling by {@linkcode timeFactor}. Default 10 000. */
  timeout?: number;
  /** Milliseconds between checks. Default 10. */
  interval?: number;
  /** Describes the condition in the timeout error. */
  message?: string;
}

/**
 * Resolves with the first truthy value of `condition`, polling it; throws a
 * {@linkcode TimeoutError} when the scaled timeout passes first.
 */
export async function eventually<T>(
  condition: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<NonNullable<T>> {
  const timeout = (options.timeout ?? 10_000) * timeFactor();
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new TimeoutError(`timed out after ${timeout} ms: ${options.message ?? "condition"}`);
    }
    await new Promise((r) => setTimeout(r, options.interval ?? 10));
  }
}

/**
 * Races a promise against the scaled timeout.
 *
 * @example
 * ```ts
 * import { within } from "@mosaik/transport/testing";
 * await within(Promise.resolve(1), 1000);
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  timeout = 10_000,
  message = "promise",
): Promise<T> {
  const ms = timeout * timeFactor();
  try {
    return await deadline(promise, ms);
  } catch (error) {
    if (error instanceof TimeoutError) {
      throw new TimeoutError(`timed out after ${ms} ms: ${message}`);
    }
    throw error;
  }
}

/**
 * Waits a quiet period of `ms` scaled by {@linkcode timeFactor}: the bound
 * of a "nothing happens" assertion, which must grow on a slow machine like
 * every other timeout.
 *
 * @example
 * ```ts
 * import { quietPeriod } from "@mosaik/transport/testing";
 * await quietPeriod(5);
 * ```
 */
export function quietPeriod(ms: number): Promise<void> {
  return delay(ms * timeFactor());
}

/**
 * The certificate and key an endpoint with `key` serves (PEM), for a raw
 * `Deno.QuicEndpoint.listen` in benches that measure QUIC without mosaik.
 */
export function certificateFor(key: SecretKey): { cert: string; key: string } {
  return nodeCertificate(key);
}

/**
 * TLS options that pin a raw `Deno.connectQuic` to `peer` exactly as an
 * endpoint's dialer does, for benches and for tests that play a hostile
 * dialer on the real wire.
 *
 * @example
 * ```ts ignore
 * const conn = await Deno.connectQuic({ hostname, port, alpnProtocols: [MOSAIK_ALPN], ...pinnedTls(peer) });
 * ```
 */
export function pinnedTls(
  peer: PeerId,
): { serverName: string; serverCertificateHashes: CertificateHash[] } {
  const { algorithm, value } = certificateHash(peer);
  // a copy: the cached pin is what the endpoint's own dials use
  return {
    serverName: serverName(peer),
    serverCertificateHashes: [{ algorithm, value: value.slice() }],
  };
}

/**
 * A raw QUIC connection to `peer` at `hostPort` (`host:port`), pinned and,
 * unless `prove` is false, authenticated as `key` on `network` as an
 * endpoint's dialer does, then waiting for the acceptor's "ok" (a refusal
 * rejects with its `ConnectError`): for tests that play a hostile peer on
 * the real wire (raw streams, bad headers, never finishing the handshake).
 *
 * @example
 * ```ts ignore
 * const conn = await dialRaw(victim.peerId, victim.hostPort, SecretKey.generate(), net);
 * const stream = await conn.createBidirectionalStream();
 * ```
 */
export async function dialRaw(
  peer: PeerId,
  hostPort: string,
  key: SecretKey,
  network: NetworkId,
  options: { prove?: boolean; maxStreams?: number } = {},
): Promise<Deno.QuicConn> {
  const { hostname, port } = parseHostPort(hostPort);
  const conn = await Deno.connectQuic<false>({
    hostname,
    port,
    alpnProtocols: [MOSAIK_ALPN],
    maxConcurrentBidirectionalStreams: options.maxStreams ?? 1024,
    ...pinnedTls(peer),
  });
  if (options.prove === false) return conn;
  try {
    const { verdict } = await proveIdentity(conn, await dialerProof(key, network, peer));
    await verdict;
  } catch (e) {
    conn.close();
    throw e;
  }
  return conn;
}
