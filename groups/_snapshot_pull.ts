// Multi-source snapshot transfer. A follower the leader announces a snapshot
// to (its metadata comes first, `_snapshot_transfer.ts`) asks the leader for
// the snapshot's manifest: the SHA-256 of every piece, in parts the leader
// hashes on demand (a bounded amount per request, so a large snapshot never
// stalls it), the next part asked for as soon as one arrives. It pulls the
// pieces in parallel from every bonded peer of the leader's incarnation that
// holds the same snapshot (index, term, length and CRC) and from the leader,
// which holds its own push meanwhile. Every piece is checked against the
// leader's manifest before it is kept, so a peer that lies or holds other
// data is caught and not asked again; the whole snapshot reaches the Raft core
// as if the leader had sent it, and only while that leader leads us in that
// term. Nothing unverified is ever installed, acknowledged or voted on. If the
// pull stalls, the leader's push resumes (after an election timeout without a
// request), so the transfer never depends on the peers.
import type { MessageOf, NodeId } from "./_messages.ts";
import type { Config } from "./storage.ts";
import { installPulled } from "./_follower.ts";
import { DIGEST_BYTES, sameDigest, sha256 } from "./_digest.ts";
import { nearestSources, type SourcesHost } from "./_sources.ts";

/** Largest piece a member asks for or serves. */
export const MAX_PIECE_BYTES = 1 << 20;
/** Most pieces, and bytes, the leader hashes for one part of a manifest. */
const PART_PIECES = 128;
const PART_BYTES = 16 << 20;
/** Largest manifest (32 768 pieces). */
export const MAX_MANIFEST_BYTES = 32_768 * DIGEST_BYTES;
/** Pieces asked of one peer at a time. */
const PER_PEER = 4;

/** Messages of the multi-source snapshot transfer. */
export type SnapshotPullMessage =
  /** Asks for the manifest's digests from piece `first` on. */
  | { type: "SnapPlan"; index: number; term: number; first: number; cluster?: string }
  | {
    type: "SnapPlanR";
    index: number;
    term: number;
    /** Bytes per piece, and the SHA-256 of pieces `first`, `first + 1`, … concatenated. */
    piece: number;
    first: number;
    digests: Uint8Array;
    cluster?: string;
  }
  | {
    type: "SnapGet";
    index: number;
    term: number;
    crc: number;
    total: number;
    offset: number;
    length: number;
    cluster?: string;
  }
  /** Empty `data`: the peer does not hold that snapshot. */
  | { type: "SnapPiece"; index: number; offset: number; data: Uint8Array; cluster?: string };

/** What the pull needs from its replica; times in ticks. */
export interface SnapshotPullHost extends SourcesHost {
  send(to: NodeId, msg: SnapshotPullMessage): void;
  /** Pull from peers at all (the leader serves manifests and pieces regardless). */
  readonly enabled: boolean;
  /** Bytes per piece of the manifests this member makes as leader; smaller snapshots are pushed. */
  readonly pieceBytes: number;
}

interface Session {
  leader: NodeId;
  /** The leader's term: the session ends when it changes. */
  term: number;
  cluster: string | undefined;
  index: number;
  snapTerm: number;
  config: Config;
  total: number;
  crc: number;
  started: number;
  planSent: number;
  /** Bytes per piece (0 until the first part of the manifest arrived). */
  piece: number;
  /** Digests of every piece, the first `known` of them received. */
  digests: Uint8Array;
  known: number;
  data: Uint8Array;
  have: boolean[];
  missing: number;
  /** Piece number → who was asked and when. */
  inflight: Map<number, { peer: NodeId; sent: number }>;
  refused: Set<NodeId>;
}

/** See the file comment. */
export class SnapshotPull {
  readonly #host: SnapshotPullHost;
  #session: Session | undefined;
  /** The manifest of our latest snapshot as leader, its first `done` digests computed. */
  #manifest: { data: Uint8Array; piece: number; digests: Uint8Array; done: number } | undefined;
  /** Pieces refused because they did not match the leader's manifest (for tests and metrics). */
  rejected = 0;
  /** Snapshots installed from pulled pieces. */
  installed = 0;

  constructor(host: SnapshotPullHost) {
    this.#host = host;
  }

  /** The leader `from` announced a snapshot (its first chunk, stepped already): pull it if others hold it. */
  maybeStart(from: NodeId, m: MessageOf<"Snap"> & { cluster?: string }): void {
    const core = this.#host.core();
    const s = m.snapshot;
    if (!this.#host.enabled || m.offset !== 0 || m.total <= this.#host.pieceBytes) return;
    if (this.#session) return;
    if (core.role !== "follower" || core.lead !== from || core.term !== m.term) return;
    if (s.index <= core.commit || core.termAt(s.index) === s.term) return; // installed already
    if (!this.#sources(m.cluster, from).length) return;
    this.#session = {
      leader: from,
      term: m.term,
      cluster: m.cluster,
      index: s.index,
      snapTerm: s.term,
      config: s.config,
      total: m.total,
      crc: m.crc,
      started: this.#host.now(),
      planSent: this.#host.now(),
      piece: 0,
      digests: new Uint8Array(0),
      known: 0,
      data: new Uint8Array(m.total),
      have: [],
      missing: 0,
      inflight: new Map(),
      refused: new Set(),
    };
    this.#plan();
  }

  /** Ends a finished or stale session, expires lost requests and asks for missing pieces. */
  drive(): void {
    const c = this.#session;
    if (!c) return;
    const core = this.#host.core();
    const now = this.#host.now();
    if (
      core.role !== "follower" || core.term !== c.term || core.lead !== c.leader ||
      c.index <= core.commit || core.termAt(c.index) === c.snapTerm ||
      now - c.started > this.#host.timeoutTicks
    ) {
      this.#session = undefined;
      return;
    }
    if (c.known < c.have.length || !c.piece) {
      if (now - c.planSent >= this.#host.retryTicks) this.#plan();
      if (!c.piece) return;
    }
    const bonds = this.#host.bonds();
    for (const [k, f] of c.inflight) {
      if (now - f.sent < this.#host.retryTicks && (f.peer === c.leader || bonds.has(f.peer))) {
        continue;
      }
      c.inflight.delete(k);
      if (f.peer !== c.leader) c.refused.add(f.peer); // the leader is only slow: ask it again
    }
    const load = new Map<NodeId, number>();
    for (const f of c.inflight.values()) load.set(f.peer, (load.get(f.peer) ?? 0) + 1);
    const sources = this.#sources(c.cluster, c.leader).filter((p) => !c.refused.has(p));
    sources.push(c.leader); // last: the peers spare it
    let k = 0;
    for (const p of sources) {
      while ((load.get(p) ?? 0) < PER_PEER) {
        while (k < c.known && (c.have[k] || c.inflight.has(k))) k++;
        if (k >= c.known) return;
        const offset = k * c.piece;
        c.inflight.set(k, { peer: p, sent: now });
        load.set(p, (load.get(p) ?? 0) + 1);
        this.#host.send(p, {
          type: "SnapGet",
          index: c.index,
          term: c.snapTerm,
          crc: c.crc,
          total: c.total,
          offset,
          length: Math.min(c.piece, c.total - offset),
          cluster: c.cluster,
        });
      }
    }
  }

  /** As leader: the manifest of our snapshot, and hold the push to the asking follower. */
  servePlan(from: NodeId, m: Extract<SnapshotPullMessage, { type: "SnapPlan" }>): void {
    const core = this.#host.core();
    const s = core.log.snapshot;
    if (core.role !== "leader" || m.cluster !== core.cluster || !s) return;
    if (s.index !== m.index || s.term !== m.term) return;
    const piece = Math.min(this.#host.pieceBytes, MAX_PIECE_BYTES);
    const count = Math.ceil(s.data.byteLength / piece);
    if (count * DIGEST_BYTES > MAX_MANIFEST_BYTES || m.first >= count) return;
    if (this.#manifest?.data !== s.data) {
      this.#manifest = {
        data: s.data,
        piece,
        digests: new Uint8Array(count * DIGEST_BYTES),
        done: 0,
      };
    }
    const mf = this.#manifest;
    if (m.first > mf.done) return; // parts are asked for in order: no skipping ahead to hash it all
    const part = Math.max(1, Math.min(PART_PIECES, Math.floor(PART_BYTES / mf.piece)));
    const end = Math.min(count, m.first + part);
    for (; mf.done < end; mf.done++) {
      const k = mf.done;
      mf.digests.set(sha256(s.data.subarray(k * mf.piece, (k + 1) * mf.piece)), k * DIGEST_BYTES);
    }
    core.leader?.holdSnapshot(from, s.index);
    this.#host.send(from, {
      type: "SnapPlanR",
      index: s.index,
      term: s.term,
      piece: mf.piece,
      first: m.first,
      digests: mf.digests.slice(m.first * DIGEST_BYTES, end * DIGEST_BYTES),
      cluster: core.cluster,
    });
  }

  /** A part of the leader's manifest: pull the pieces it covers, ask for the next part. */
  onPlan(from: NodeId, m: Extract<SnapshotPullMessage, { type: "SnapPlanR" }>): void {
    const c = this.#session;
    if (!c || from !== c.leader || m.cluster !== c.cluster) return;
    if (m.index !== c.index || m.term !== c.snapTerm || m.first !== c.known) return;
    if (!m.piece || m.piece > MAX_PIECE_BYTES || (c.piece && m.piece !== c.piece)) return;
    const count = Math.ceil(c.total / m.piece);
    const got = m.digests.byteLength / DIGEST_BYTES;
    if (!Number.isInteger(got) || !got || m.first + got > count) return;
    if (!c.piece) {
      c.piece = m.piece;
      c.digests = new Uint8Array(count * DIGEST_BYTES);
      c.have = new Array(count).fill(false);
      c.missing = count;
    }
    c.digests.set(m.digests, m.first * DIGEST_BYTES);
    c.known += got;
    if (c.known < count) this.#plan();
    this.drive();
  }

  /** Serves a piece of our latest snapshot if it is the one asked for. */
  serve(from: NodeId, m: Extract<SnapshotPullMessage, { type: "SnapGet" }>): void {
    const core = this.#host.core();
    const s = core.log.snapshot;
    let data: Uint8Array = new Uint8Array(0);
    if (
      s && m.cluster === core.cluster && s.index === m.index && s.term === m.term &&
      s.data.byteLength === m.total && m.length <= MAX_PIECE_BYTES &&
      m.offset + m.length <= m.total && core.log.snapshotCrc() === m.crc
    ) {
      data = s.data.subarray(m.offset, m.offset + m.length);
      core.leader?.holdSnapshot(from, s.index); // it still pulls
    }
    this.#host.send(from, {
      type: "SnapPiece",
      index: m.index,
      offset: m.offset,
      data,
      cluster: core.cluster,
    });
  }

  /** A piece arrived: keep it if the leader's manifest vouches for it; install once complete. */
  onPiece(from: NodeId, m: Extract<SnapshotPullMessage, { type: "SnapPiece" }>): void {
    const c = this.#session;
    if (!c?.piece || m.index !== c.index || m.offset % c.piece) return;
    const k = m.offset / c.piece;
    if (c.inflight.get(k)?.peer !== from) return;
    c.inflight.delete(k);
    const length = Math.min(c.piece, c.total - m.offset);
    if (!m.data.byteLength) {
      c.refused.add(from);
    } else if (m.data.byteLength !== length || !matches(m.data, c.digests, k)) {
      this.rejected++;
      if (from === c.leader) { // its manifest and its data disagree: let it push
        this.#session = undefined;
        return;
      }
      c.refused.add(from);
    } else if (!c.have[k]) {
      c.data.set(m.data, m.offset);
      c.have[k] = true;
      c.missing--;
    }
    if (c.missing) return this.drive();
    this.#session = undefined; // every byte matched the leader's manifest
    const snapshot = { index: c.index, term: c.snapTerm, config: c.config, data: c.data };
    if (installPulled(this.#host.core(), c.leader, c.term, snapshot)) this.installed++;
  }

  /** Forgets the session (the member reset). */
  reset(): void {
    this.#session = undefined;
  }

  #plan(): void {
    const c = this.#session!;
    c.planSent = this.#host.now();
    this.#host.send(c.leader, {
      type: "SnapPlan",
      index: c.index,
      term: c.snapTerm,
      first: c.known,
      cluster: c.cluster,
    });
  }

  /** Bonded peers of the incarnation other than the leader, nearest first. */
  #sources(cluster: string | undefined, leader: NodeId): NodeId[] {
    return cluster === undefined ? [] : nearestSources(this.#host, cluster, (p) => p === leader);
  }
}

function matches(piece: Uint8Array, digests: Uint8Array, k: number): boolean {
  return sameDigest(sha256(piece), digests.subarray(k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES));
}
