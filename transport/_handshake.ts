/**
 * The identity handshake on a fresh QUIC connection, in one round trip.
 *
 * TLS pins the acceptor: the dialer only completes a handshake with the
 * holder of the key of the {@linkcode PeerId} it dialed. The dialer then
 * proves who it is in its first frame, without waiting for anything from the
 * acceptor: it opens the first stream and sends its public key, its network
 * id, a timestamp, a random 16-byte nonce and an Ed25519 signature over
 * `"mosaik/dialer-proof/2" ‖ acceptor PeerId ‖ network id ‖ timestamp ‖ nonce`.
 * The acceptor checks it and answers `"ok"` (or closes with a code), so the
 * dialer learns its verdict one round trip after QUIC's handshake.
 *
 * Why this is as strong as a proof over a nonce of the acceptor's:
 * - Nobody else reads the proof: it travels inside TLS to the pinned
 *   acceptor, so an eavesdropper or a relay sees only ciphertext.
 * - The acceptor cannot use it elsewhere: it names the acceptor's PeerId,
 *   and every acceptor refuses a proof naming someone else (the check is the
 *   signature over its own id), so a proof received is worthless to forward.
 * - It cannot be used again at the same acceptor: the acceptor takes a
 *   timestamp only within ±{@linkcode PROOF_WINDOW_MS} of its own clock and
 *   remembers every (dialer, nonce) it accepted until the timestamp leaves
 *   that window ({@linkcode SeenProofs}): a second connection with the same
 *   proof is refused with `InvalidProof`. The memory is bounded: when full,
 *   its oldest second is forgotten and every proof from that second or
 *   earlier is refused from then on, so a forgotten proof never comes back.
 *   The only party that ever held the proof besides the dialer is the
 *   acceptor itself, which needs no proof to know who dialed it.
 * - Another network's proof is useless: the network id is signed, and a
 *   dialer of another network is refused with `DifferentNetwork` (its close
 *   reason names both networks, so both ends can tell the user).
 * - Keys of small order, which verify signatures nobody made, are refused
 *   ({@linkcode verifyAsync}).
 *
 * Clocks: a dialer whose clock is more than the window away from the
 * acceptor's is refused with `ClockSkew`, its reason saying by how much and
 * which way, and the dialer reports it as a {@linkcode ConnectError} with
 * that code (retrying another address of the same peer would not help). The
 * acceptor's clock going back cannot revive a remembered proof: the
 * forgotten seconds stay refused.
 *
 * @module
 */
import { deadline } from "./async.ts";
import { equalBytes } from "./bytes.ts";
import { decode, encode } from "./codec.ts";
import { ConnectError, DecodeError, TimeoutError } from "./errors.ts";
import {
  digestBytes,
  type PeerId,
  peerIdFromBytes,
  peerIdToBytes,
  type SecretKey,
  toHex,
  verifyAsync,
} from "./ids.ts";
import type { Logger } from "./log.ts";
import { CloseCode, closeCodeName, type NetworkId } from "./vocabulary.ts";
import { FrameReader, FrameWriter } from "./_frames.ts";
import { PROOF_WINDOW_MS, SeenProofs } from "./_replay.ts";

export { PROOF_WINDOW_MS, SeenProofs };

const PROOF_DOMAIN = new TextEncoder().encode("mosaik/dialer-proof/2");
const NONCE_BYTES = 16;
/** Largest handshake frame: key, network, timestamp, nonce, signature and msgpack overhead. */
const MAX_HANDSHAKE_FRAME = 256;

/** A handshake refused with a close code. */
export class HandshakeRefused extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** `promise` within `ms`, else refused with `HandshakeTimeout`. */
export function handshakeDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return deadline(promise, ms).catch((e) => {
    throw e instanceof TimeoutError
      ? new HandshakeRefused(CloseCode.HandshakeTimeout, "handshake timed out")
      : e;
  });
}

function proofMessage(
  acceptor: Uint8Array,
  network: Uint8Array,
  timestamp: number,
  nonce: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(PROOF_DOMAIN.length + 72 + NONCE_BYTES);
  out.set(PROOF_DOMAIN);
  out.set(acceptor, PROOF_DOMAIN.length);
  out.set(network, PROOF_DOMAIN.length + 32);
  new DataView(out.buffer).setBigUint64(PROOF_DOMAIN.length + 64, BigInt(timestamp));
  out.set(nonce, PROOF_DOMAIN.length + 72);
  return out;
}

/** The first 12 hex digits of a network id, for messages. */
const short = (bytes: Uint8Array) => `${toHex(bytes).slice(0, 12)}…`;

/**
 * The dialer's first frame for a connection to `acceptor`: made before
 * dialing, so signing overlaps QUIC's handshake. `timestamp` and `nonce` are
 * for tests (default: now, random).
 */
export async function dialerProof(
  key: SecretKey,
  networkId: NetworkId,
  acceptor: PeerId,
  timestamp = Date.now(),
  nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
): Promise<Uint8Array> {
  const network = digestBytes(networkId);
  const message = proofMessage(peerIdToBytes(acceptor), network, timestamp, nonce);
  return encode([key.publicKey, network, timestamp, nonce, await key.signAsync(message)]);
}

/**
 * Dialer side: sends `proof` (from {@linkcode dialerProof}) on the first
 * stream and waits for the acceptor's verdict. A refusal rejects with a
 * {@linkcode ConnectError} carrying the acceptor's close code and reason.
 */
export async function proveIdentity(conn: Deno.QuicConn, proof: Uint8Array): Promise<void> {
  let verdict: unknown;
  let writer: FrameWriter;
  try {
    const stream = await conn.createBidirectionalStream();
    writer = new FrameWriter(stream.writable, MAX_HANDSHAKE_FRAME);
    await writer.write(proof);
    const frame = await new FrameReader(stream.readable, MAX_HANDSHAKE_FRAME).next();
    if (!frame || frame.close) throw new ConnectError("connection closed during handshake");
    verdict = decode(frame.data);
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new HandshakeRefused(CloseCode.ProtocolViolation, e.message);
    }
    const info = await deadline(conn.closed, 250).catch(() => undefined);
    if (!info) {
      throw new ConnectError("connection closed during handshake", undefined, { cause: e });
    }
    throw new ConnectError(info.reason || closeCodeName(info.closeCode), info.closeCode, {
      cause: e,
    });
  }
  if (verdict !== "ok") throw new HandshakeRefused(CloseCode.ProtocolViolation, "no verdict");
  void writer.finish(); // swallows its errors; nothing waits for it
}

/**
 * Acceptor side: reads the dialer's proof from the first stream it opens,
 * checks it and answers "ok"; resolves with the dialer's id.
 */
export async function checkProof(
  conn: Deno.QuicConn,
  key: SecretKey,
  networkId: NetworkId,
  seen: SeenProofs,
  blocked: (peer: PeerId) => boolean,
): Promise<PeerId> {
  const streams = conn.incomingBidirectionalStreams.getReader();
  const first = await streams.read().catch(() => ({ done: true as const, value: undefined }));
  streams.releaseLock();
  if (first.done) {
    throw new HandshakeRefused(CloseCode.UnexpectedClose, "dialer left during handshake");
  }
  const reader = new FrameReader(first.value.readable, MAX_HANDSHAKE_FRAME);
  const writer = new FrameWriter(first.value.writable, MAX_HANDSHAKE_FRAME);
  let answer: unknown;
  try {
    const frame = await reader.next();
    if (!frame || frame.close) throw new ConnectError("connection closed during handshake");
    answer = decode(frame.data);
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new HandshakeRefused(CloseCode.ProtocolViolation, e.message);
    }
    throw new HandshakeRefused(CloseCode.UnexpectedClose, "dialer left during handshake");
  }
  const [publicKey, network, timestamp, nonce, signature] = Array.isArray(answer) ? answer : [];
  if (
    !(publicKey instanceof Uint8Array) || publicKey.length !== 32 ||
    !(network instanceof Uint8Array) || !Number.isSafeInteger(timestamp) || timestamp < 0 ||
    !(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES ||
    !(signature instanceof Uint8Array)
  ) {
    throw new HandshakeRefused(CloseCode.InvalidProof, "malformed proof");
  }
  const ours = digestBytes(networkId);
  if (!equalBytes(network, ours)) {
    throw new HandshakeRefused(
      CloseCode.DifferentNetwork,
      `dialer is on network ${short(network)}, acceptor on ${short(ours)}`,
    );
  }
  const skew = seen.skew(timestamp);
  if (skew !== 0) {
    const by = Math.round(Math.abs(skew) / 1000);
    throw new HandshakeRefused(
      CloseCode.ClockSkew,
      `clocks differ: the dialer's is ${by} s ${skew > 0 ? "ahead of" : "behind"} the ` +
        `acceptor's, more than the ±${seen.windowMs / 1000} s allowed`,
    );
  }
  const message = proofMessage(key.publicKey, ours, timestamp, nonce);
  if (!(await verifyAsync(publicKey, message, signature))) {
    throw new HandshakeRefused(CloseCode.InvalidProof, "bad dialer proof");
  }
  if (!seen.admit(toHex(publicKey) + toHex(nonce), timestamp)) {
    throw new HandshakeRefused(CloseCode.InvalidProof, "replayed dialer proof");
  }
  const peer = peerIdFromBytes(publicKey);
  if (blocked(peer)) throw new HandshakeRefused(CloseCode.Blocked, "blocked");
  await writer.write(encode("ok"));
  void writer.finish(); // swallows its errors; nothing waits for it
  return peer;
}

/** The close code the remote already sent on `conn`, if any (without waiting). */
export async function remoteCloseCode(
  conn: Deno.QuicConn | undefined,
): Promise<number | undefined> {
  if (!conn) return undefined;
  const info = await Promise.race([
    conn.closed.catch(() => undefined),
    new Promise<undefined>((r) => queueMicrotask(() => r(undefined))),
  ]);
  return info?.closeCode;
}

/**
 * Warns once per key (a remote address), so a peer retrying does not flood
 * the log: `<what>: <the error's message>; <hint>`.
 */
export class WarnOnce {
  #seen = new Set<string>();
  constructor(readonly log: Logger, readonly hint: string) {}
  warn(key: string, what: string, error: unknown): void {
    if (this.#seen.has(key)) return;
    if (this.#seen.size >= 256) this.#seen.clear();
    this.#seen.add(key);
    this.log.warn(`${what}: ${error instanceof Error ? error.message : error}; ${this.hint}`);
  }
}
