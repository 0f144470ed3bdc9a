/**
 * The identity handshake on a fresh QUIC connection. TLS already pinned the
 * acceptor's key for the dialer; here the acceptor learns who dialed: it
 * opens the first stream with a nonce and its network id, the dialer answers
 * with a signature over the nonce, the acceptor's id and the network id, and
 * the acceptor gives its verdict. Each side refuses another network with
 * `DifferentNetwork`, the dialer saying in its close reason which networks
 * differ, so both ends can tell the user.
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
import { CloseCode, type NetworkId } from "./vocabulary.ts";
import { FrameReader, FrameWriter } from "./_frames.ts";

const PROOF_DOMAIN = new TextEncoder().encode("mosaik/dialer-proof/1");

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

function proofMessage(nonce: Uint8Array, acceptor: Uint8Array, network: Uint8Array): Uint8Array {
  const out = new Uint8Array(PROOF_DOMAIN.length + 96);
  out.set(PROOF_DOMAIN);
  out.set(nonce, PROOF_DOMAIN.length);
  out.set(acceptor, PROOF_DOMAIN.length + 32);
  out.set(network, PROOF_DOMAIN.length + 64);
  return out;
}

/** The first 12 hex digits of a network id, for messages. */
const short = (bytes: Uint8Array) => `${toHex(bytes).slice(0, 12)}…`;

async function read(reader: FrameReader): Promise<unknown> {
  const frame = await reader.next();
  if (!frame || frame.close) throw new ConnectError("connection closed during handshake");
  return decode(frame.data);
}

/** Dialer side: answers the acceptor's nonce with a signed proof and waits for its verdict. */
export async function proveIdentity(
  conn: Deno.QuicConn,
  key: SecretKey,
  networkId: NetworkId,
  peer: PeerId,
): Promise<void> {
  const streams = conn.incomingBidirectionalStreams.getReader();
  const first = await streams.read();
  streams.releaseLock();
  if (first.done) throw new ConnectError("connection closed during handshake");
  const reader = new FrameReader(first.value.readable, 1024);
  const writer = new FrameWriter(first.value.writable, 1024);
  const [nonce, network] = await read(reader) as [Uint8Array, Uint8Array];
  if (!(nonce instanceof Uint8Array) || nonce.length !== 32 || !(network instanceof Uint8Array)) {
    throw new HandshakeRefused(CloseCode.ProtocolViolation, "malformed handshake");
  }
  const ours = digestBytes(networkId);
  if (!equalBytes(network, ours)) {
    throw new HandshakeRefused(
      CloseCode.DifferentNetwork,
      `acceptor is on network ${short(network)}, dialer on ${short(ours)}`,
    );
  }
  const proof = await key.signAsync(proofMessage(nonce, peerIdToBytes(peer), ours));
  await writer.write(encode([key.publicKey, ours, proof]));
  const verdict = await read(reader);
  if (verdict !== "ok") throw new HandshakeRefused(CloseCode.ProtocolViolation, "no verdict");
  await writer.finish();
}

/** Acceptor side: sends a nonce, checks the dialer's proof; resolves with the dialer's id. */
export async function checkProof(
  conn: Deno.QuicConn,
  key: SecretKey,
  networkId: NetworkId,
  blocked: (peer: PeerId) => boolean,
): Promise<PeerId> {
  const stream = await conn.createBidirectionalStream();
  const reader = new FrameReader(stream.readable, 1024);
  const writer = new FrameWriter(stream.writable, 1024);
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const ours = digestBytes(networkId);
  await writer.write(encode([nonce, ours]));
  let answer: unknown;
  try {
    answer = await read(reader);
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new HandshakeRefused(CloseCode.ProtocolViolation, e.message);
    }
    // A dialer of another network leaves at our hello, saying so in its close.
    const info = await deadline(conn.closed, 250).catch(() => undefined);
    if (info?.closeCode === CloseCode.DifferentNetwork) {
      throw new HandshakeRefused(CloseCode.DifferentNetwork, info.reason);
    }
    throw new HandshakeRefused(CloseCode.UnexpectedClose, "dialer left during handshake");
  }
  const [publicKey, network, signature] = Array.isArray(answer) ? answer : [];
  if (
    !(publicKey instanceof Uint8Array) || publicKey.length !== 32 ||
    !(network instanceof Uint8Array) || !(signature instanceof Uint8Array)
  ) {
    throw new HandshakeRefused(CloseCode.InvalidProof, "malformed proof");
  }
  if (!equalBytes(network, ours)) {
    throw new HandshakeRefused(
      CloseCode.DifferentNetwork,
      `dialer is on network ${short(network)}, acceptor on ${short(ours)}`,
    );
  }
  if (!(await verifyAsync(publicKey, proofMessage(nonce, key.publicKey, ours), signature))) {
    throw new HandshakeRefused(CloseCode.InvalidProof, "bad dialer proof");
  }
  const peer = peerIdFromBytes(publicKey);
  if (blocked(peer)) throw new HandshakeRefused(CloseCode.Blocked, "blocked");
  await writer.write(encode("ok"));
  await writer.finish();
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
