/**
 * The identity handshake on a fresh QUIC connection, with no round trip of
 * its own (why it is safe: the module doc of `mod.ts`, "Identities").
 *
 * TLS pins the acceptor: the dialer only completes a handshake with the
 * holder of the key of the {@linkcode PeerId} it dialed. The dialer then
 * proves who it is in its first frame, without waiting for anything from the
 * acceptor: it opens the first stream and sends its public key, its network
 * id, a timestamp, a random 16-byte nonce and an Ed25519 signature over
 * `"mosaik/dialer-proof/2" ‖ acceptor PeerId ‖ network id ‖ timestamp ‖ nonce`,
 * and its connection is ready at once ({@linkcode proveIdentity}): channels
 * it opens follow the proof on the wire. The acceptor reads the first stream
 * (QUIC hands streams over in the order of their ids, so the proof comes
 * first however packets arrive), checks the proof ({@linkcode checkProof})
 * and only then routes the connection's other streams, holding up to
 * {@linkcode EARLY_STREAMS} of them meanwhile; it answers `"ok"` on the first
 * stream, or closes the connection with a code and reason, which the
 * dialer's connection reports as its `accepted` and `closed` and as the error
 * of the first operation that fails.
 *
 * The first stream does not end there: the dialer's first channel takes it
 * over ({@linkcode SpareStream}), its header and frames following the proof,
 * and the acceptor routes it like any other stream once it answered. A
 * stream of its own for the proof cost both ends about a fifth of a
 * handshake's CPU (measured: 3.1 ms against 2.55 ms per connection with a
 * channel). A dialer that opens no channel before the verdict arrives
 * finishes the stream, and the acceptor ends its side as for any stream that
 * names no protocol.
 *
 * The checks, each with its close code:
 * - The proof names the acceptor (the signature is checked over its own
 *   id): a proof made for another acceptor is refused with `InvalidProof`.
 * - The timestamp is within ±{@linkcode PROOF_WINDOW_MS} of the acceptor's
 *   clock, else `ClockSkew`, its reason saying by how much and which way.
 * - Each (dialer, nonce) is accepted once: the acceptor remembers those it
 *   accepted until their timestamp leaves the window ({@linkcode SeenProofs});
 *   a second connection with the same proof is refused with `InvalidProof`.
 *   The memory is bounded: when full, its oldest second is forgotten and
 *   every proof from that second or earlier is refused from then on, so a
 *   forgotten proof never comes back (nor does a clock going back revive one).
 * - The network id is signed; another network's dialer is refused with
 *   `DifferentNetwork`, its reason naming both networks, so both ends can
 *   tell the user.
 * - Keys of small order, which verify signatures nobody made, are refused
 *   ({@linkcode verifyAsync}).
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
import { FrameReader, FrameWriter, type ReserveBytes } from "./_frames.ts";
import { PROOF_WINDOW_MS, SeenProofs } from "./_replay.ts";

export { PROOF_WINDOW_MS, SeenProofs };

/**
 * The ALPN of mosaik connections. Version 3: the acceptor's certificate is
 * the one made from its PeerId, pinned by its hash (`_cert.ts`; version 2
 * signed it and pinned a trust anchor). Version 2: the dialer's first stream
 * goes on as its first channel after the proof and the verdict (version 1
 * ended it there).
 */
export const ALPN = "mosaik/3";

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

/** Closes `conn`, if any, with `code` and `reason`; one already closed stays as it was. */
export function closeQuietly(conn: Deno.QuicConn | undefined, code: number, reason: string): void {
  try {
    conn?.close({ closeCode: code, reason });
  } catch { /* already closed */ }
}

/**
 * Closes `conn` at its first QUIC datagram. No protocol uses datagrams, and
 * the runtime keeps unread ones (up to ~1.25 MiB per connection), so a
 * remote could park that much on every connection it opens.
 */
export function refuseDatagrams(conn: Deno.QuicConn): void {
  conn.readDatagram().then(
    () => closeQuietly(conn, CloseCode.ProtocolViolation, "datagrams are not used"),
    () => {},
  );
}

/** Closes `conn` with the code of `e` when this side refused it; returns that code. */
export function closeRefused(e: unknown, conn: Deno.QuicConn | undefined): number | undefined {
  if (!(e instanceof HandshakeRefused)) return undefined;
  closeQuietly(conn, e.code, e.message);
  return e.code;
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

/** How frames are read on channels: the largest frame and the budget it is reserved from. */
export interface FrameLimits {
  /** Largest frame a channel takes. */
  maxFrameSize: number;
  /** The node's budget for frames in assembly. */
  reserve?: ReserveBytes;
}

/** The frame limits of a stream that only carries the handshake. */
const HANDSHAKE_ONLY: FrameLimits = { maxFrameSize: MAX_HANDSHAKE_FRAME };

/** The first stream's reader and writer, for the channel that takes it over. */
export interface FirstStream {
  reader: FrameReader;
  writer: FrameWriter;
}

/**
 * The dialer's first stream, once its proof is sent: the first channel it
 * opens takes it over ({@linkcode SpareStream.take}) instead of opening a
 * stream of its own. Not taken when the verdict arrives, it is finished.
 */
export interface SpareStream {
  /** The stream, once: `undefined` when taken or finished already. */
  take(): FirstStream | undefined;
}

/**
 * Dialer side: opens the connection's first stream and sends `proof` (from
 * {@linkcode dialerProof}) on it, without waiting for an answer. Resolves once
 * the stream is open, with the acceptor's `verdict` still to come: it resolves
 * on "ok" and rejects with a {@linkcode ConnectError} carrying the acceptor's
 * close code and reason when it refused. The stream stays open for the first
 * channel (`spare`); `limits` are those of its frames.
 */
export async function proveIdentity(
  conn: Deno.QuicConn,
  proof: Uint8Array,
  limits: FrameLimits = HANDSHAKE_ONLY,
): Promise<{ verdict: Promise<void>; spare: SpareStream }> {
  let stream: Deno.QuicBidirectionalStream;
  try {
    stream = await conn.createBidirectionalStream();
  } catch (e) {
    throw await closedBy(conn, e);
  }
  const writer = new FrameWriter(stream.writable, limits.maxFrameSize);
  const reader = new FrameReader(stream.readable, limits.maxFrameSize, limits.reserve);
  writer.write(proof).catch(() => {}); // a failed write ends the verdict's read too
  const verdict = readVerdict(conn, reader);
  verdict.catch(() => {}); // the caller may have given up on the dialing
  let first: FirstStream | undefined = { reader, writer };
  const spare = {
    take() {
      const taken = first;
      first = undefined;
      return taken;
    },
  };
  // Only `first` may outlive the verdict: the connection keeps `spare`, and
  // whatever its closures reach (a stream's reader and writer) with it.
  const release = () => {
    const unused = spare.take();
    if (!unused) return;
    void unused.writer.finish(); // swallows its errors; the acceptor ends its side in turn
    unused.reader.cancel();
  };
  verdict.then(release, release);
  return { verdict, spare };
}

async function readVerdict(conn: Deno.QuicConn, reader: FrameReader) {
  let verdict: unknown;
  try {
    const frame = await reader.next(MAX_HANDSHAKE_FRAME);
    if (!frame || frame.close) throw new ConnectError("connection closed during handshake");
    verdict = decode(frame.data);
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new HandshakeRefused(CloseCode.ProtocolViolation, e.message);
    }
    throw await closedBy(conn, e);
  }
  if (verdict !== "ok") throw new HandshakeRefused(CloseCode.ProtocolViolation, "no verdict");
}

/** Why `conn` failed with `e`: a {@linkcode ConnectError} with the close code the remote sent. */
async function closedBy(conn: Deno.QuicConn, e: unknown): Promise<ConnectError> {
  const info = await deadline(conn.closed, 250).catch(() => undefined);
  if (!info) return new ConnectError("connection closed during handshake", undefined, { cause: e });
  return new ConnectError(info.reason || closeCodeName(info.closeCode), info.closeCode, {
    cause: e,
  });
}

/**
 * Channels a dialer may open besides its proof's stream before the acceptor
 * has checked the proof; its connection opens more only after the verdict.
 */
export const EARLY_STREAMS = 4;

type Stream = Deno.QuicBidirectionalStream;

/** Streams a remote opened, for the router: those already taken, then the rest from `reader`. */
export interface IncomingStreams {
  /** The dialer's first stream after its proof, as its reader and writer. */
  first?: FirstStream;
  /** Taken off QUIC's queue already, in order. */
  held: Stream[];
  /** A read of `reader` under way, whose stream comes next. */
  next?: Promise<ReadableStreamReadResult<Stream>>;
  /** The connection's incoming streams. */
  reader: ReadableStreamDefaultReader<Stream>;
}

/**
 * The streams a dialer opens before its proof checks out. The first carries
 * the proof; up to {@linkcode EARLY_STREAMS} more are taken off QUIC's queue
 * and held unread until {@linkcode EarlyStreams.handOver}, and one more
 * refuses the dialer ({@linkcode EarlyStreams.overflow}). So an unproven
 * dialer parks at most that many streams' receive windows of bytes (about
 * 1.25 MiB each) at the acceptor, not one per stream of QUIC credit.
 */
export class EarlyStreams {
  #reader: ReadableStreamDefaultReader<Stream>;
  #held: Stream[] = [];
  #next: Promise<ReadableStreamReadResult<Stream>> | undefined;
  #taking = true;
  #refuse: (e: HandshakeRefused) => void = () => {};
  /**
   * Rejects when the dialer opens more than {@linkcode EARLY_STREAMS} streams
   * before its proof checks out (and, harmlessly, at {@linkcode EarlyStreams.handOver}).
   */
  readonly overflow: Promise<never>;

  constructor(conn: Deno.QuicConn) {
    this.#reader = conn.incomingBidirectionalStreams.getReader();
    this.overflow = new Promise((_, reject) => this.#refuse = reject);
    this.overflow.catch(() => {});
  }

  /** The dialer's first stream, or `undefined` when it left; the next ones are taken from now on. */
  async first(): Promise<Stream | undefined> {
    const first = await this.#reader.read().catch(() => undefined);
    if (first?.done !== false) return undefined;
    this.#take();
    return first.value;
  }

  #take(): void {
    const next = this.#next = this.#reader.read();
    next.then((r) => {
      if (!this.#taking || r.done) return;
      this.#next = undefined;
      this.#held.push(r.value);
      if (this.#held.length <= EARLY_STREAMS) this.#take();
      else this.#refuse(this.#tooMany());
    }, () => {});
  }

  #tooMany(): HandshakeRefused {
    const why = `more than ${EARLY_STREAMS} streams before the dialer's proof`;
    return new HandshakeRefused(CloseCode.ProtocolViolation, why);
  }

  /** Stops taking streams: what was taken and the rest, for the router. */
  handOver(): IncomingStreams {
    this.#taking = false;
    if (this.#held.length > EARLY_STREAMS) throw this.#tooMany();
    // Settles `overflow`: a race on it would otherwise hold its winner (the
    // proof's frame) for as long as the connection lives.
    this.#refuse(new HandshakeRefused(CloseCode.ProtocolViolation, "streams handed over"));
    const held = this.#held;
    this.#held = []; // this object lives until the next stream arrives; they may end sooner
    return { held, next: this.#next, reader: this.#reader };
  }
}

/** A dialer whose proof checked out. */
export interface ProvenDialer {
  /** The dialer's id. */
  peer: PeerId;
  /** The streams it opened, for the router. */
  streams: IncomingStreams;
  /** Answers "ok": the dialer's connection is accepted. */
  accept(): void;
}

/**
 * Acceptor side: reads the dialer's proof from the first stream it opens and
 * checks it; resolves with the dialer's id, its streams and the means to
 * answer "ok" once the endpoint took the connection. Streams the dialer
 * opened meanwhile are held unread ({@linkcode EarlyStreams}); the first one
 * goes on as a channel after the proof, read within `limits`.
 */
export async function checkProof(
  conn: Deno.QuicConn,
  key: SecretKey,
  networkId: NetworkId,
  seen: SeenProofs,
  limits: FrameLimits = HANDSHAKE_ONLY,
): Promise<ProvenDialer> {
  const early = new EarlyStreams(conn);
  const first = await early.first();
  if (!first) throw new HandshakeRefused(CloseCode.UnexpectedClose, "dialer left during handshake");
  const reader = new FrameReader(first.readable, limits.maxFrameSize, limits.reserve);
  let answer: unknown;
  try {
    const frame = await Promise.race([reader.next(MAX_HANDSHAKE_FRAME), early.overflow]);
    if (!frame || frame.close) throw new ConnectError("connection closed during handshake");
    answer = decode(frame.data);
  } catch (e) {
    if (e instanceof HandshakeRefused) throw e;
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
  const writer = new FrameWriter(first.writable, limits.maxFrameSize);
  return {
    peer: peerIdFromBytes(publicKey),
    streams: { ...early.handOver(), first: { reader, writer } },
    accept() {
      // queued before anything a channel on the first stream answers: the
      // router reads that channel's header only after this returns
      writer.write(encode("ok")).catch(() => {}); // a dialer gone by now learns nothing
    },
  };
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
