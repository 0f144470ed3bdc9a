// Parallel catch-up: a follower far behind the leader's commit point fetches
// the gap from several peers at once, a brand-new member (no configuration
// yet) too, from the peers of the leader's incarnation. A peer serves a range
// only if its log holds the leader's (index, term) point, so by Log Matching
// the range equals the leader's log. The follower does not take that on
// trust: it checks every range against the point (terms never decrease, never
// pass the point's term, and the point itself carries it) and against the
// SHA-256 of the same range the leader sends it (hashing is far cheaper for
// the leader than sending the entries), and stops asking a peer whose range
// fails. Entries are appended only once vouched for, only while the same
// leader and term last, and never over committed ones.
import type { NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";
import { nearestSources, type SourcesHost } from "./_sources.ts";
import type { Entry } from "./storage.ts";
import { DIGEST_BYTES, rangeDigest, sameDigest } from "./_digest.ts";

/** Catch-up messages between members. */
export type CatchUpMessage =
  | { type: "Fetch"; from: number; to: number; at: number; atTerm: number; cluster?: string }
  | { type: "Fetched"; from: number; entries: Entry[]; cluster?: string }
  /** To the leader: the digest of a range fetched from a peer. */
  | { type: "FetchSum"; from: number; to: number; at: number; atTerm: number; cluster?: string }
  /** The leader's digest of entries `from..=to` (empty: it cannot vouch for them). */
  | { type: "FetchSumR"; from: number; to: number; sum: Uint8Array; cluster?: string };

/** What catch-up needs from its replica; times in ticks. */
export interface CatchUpHost extends SourcesHost {
  send(to: NodeId, msg: CatchUpMessage): void;
  /** A follower this many entries behind fetches in parallel (0 = off). */
  readonly gap: number;
  /** Entries per fetch request. */
  readonly batch: number;
}

interface Session {
  /** Next index to append. */
  cursor: number;
  /** The leader's point (index, term) every serving peer must hold. */
  at: number;
  atTerm: number;
  /** Ranges vouched for by the leader, ready to append. */
  chunks: Map<number, Entry[]>;
  /** Ranges from peers waiting for the leader's digest, and the digests asked for. */
  pending: Map<number, { entries: Entry[]; peer: NodeId }>;
  sums: Map<number, { to: number; sent: number; sum?: Uint8Array }>;
  inflight: Map<NodeId, { from: number; to: number; sent: number }>;
  refused: Set<NodeId>;
  started: number;
  /** Term and leader the point came from: the session ends when either changes. */
  term: number;
  leader: NodeId;
  /** The leader's incarnation. */
  cluster: string;
}

/** See the file comment. */
export class CatchUp {
  readonly #host: CatchUpHost;
  #session: Session | undefined;
  /** Entries served to catching-up peers (for metrics). */
  served = 0;
  /** Ranges refused because they do not fit the leader's point (for tests and metrics). */
  rejected = 0;

  constructor(host: CatchUpHost) {
    this.#host = host;
  }

  /** The leader `from` showed its point (index, term): start fetching if we are far behind it. */
  maybeStart(from: NodeId, at: number, atTerm: number, cluster: string | undefined): void {
    const core = this.#host.core();
    const gap = this.#host.gap;
    if (!gap || this.#session || core.role !== "follower" || cluster === undefined) return;
    if (core.config ? cluster !== core.config.cluster : core.lastIndex !== 0) return;
    if (at - core.lastIndex < gap) return;
    if (core.termAt(at) !== undefined) return;
    this.#session = {
      cursor: core.commit + 1,
      at,
      atTerm,
      chunks: new Map(),
      pending: new Map(),
      sums: new Map(),
      inflight: new Map(),
      refused: new Set([from]), // the leader replicates anyway; ask the others
      started: this.#host.now(),
      term: core.term,
      leader: from,
      cluster,
    };
    this.drive();
  }

  /** Ends a finished or stale session, expires lost requests and sends new ones. */
  drive(): void {
    const c = this.#session;
    if (!c) return;
    const core = this.#host.core();
    const now = this.#host.now();
    const bonds = this.#host.bonds();
    if (
      core.role !== "follower" || core.term !== c.term || core.lead !== c.leader ||
      core.lastIndex >= c.at || now - c.started > this.#host.timeoutTicks ||
      (core.cluster !== undefined && core.cluster !== c.cluster)
    ) {
      this.#session = undefined;
      return;
    }
    if (c.cursor <= core.commit) c.cursor = core.commit + 1;
    for (const [peer, f] of c.inflight) {
      if (now - f.sent >= this.#host.retryTicks || !bonds.has(peer)) {
        c.inflight.delete(peer);
        c.refused.add(peer);
      }
    }
    for (const [from, sum] of c.sums) {
      if (!sum.sum && now - sum.sent >= this.#host.retryTicks) this.#askSum(c, from, sum.to);
    }
    const held = (i: number) => c.chunks.get(i) ?? c.pending.get(i)?.entries;
    const busy = (i: number) =>
      held(i) !== undefined || [...c.inflight.values()].some((f) => f.from <= i && i <= f.to);
    const peers = nearestSources(
      this.#host,
      c.cluster,
      (p) => c.refused.has(p) || c.inflight.has(p),
    );
    let next = c.cursor;
    for (const p of peers) {
      while (next <= c.at && busy(next)) next += held(next)?.length || 1;
      if (next > c.at) break;
      const to = Math.min(c.at, next + this.#host.batch - 1);
      c.inflight.set(p, { from: next, to, sent: now });
      this.#host.send(p, {
        type: "Fetch",
        from: next,
        to,
        at: c.at,
        atTerm: c.atTerm,
        cluster: c.cluster,
      });
      if (c.sums.get(next)?.to !== to) this.#askSum(c, next, to);
      next = to + 1;
    }
    if (!c.inflight.size && !peers.length && !c.chunks.size && !c.pending.size) {
      this.#session = undefined; // nobody can help
    }
  }

  /** Serves a range only if our log holds the leader's point. */
  serve(from: NodeId, m: Extract<CatchUpMessage, { type: "Fetch" }>): void {
    const core = this.#host.core();
    let entries: Entry[] = [];
    if (
      m.cluster === core.cluster && core.termAt(m.at) === m.atTerm && m.from >= core.firstIndex &&
      m.from <= m.to && m.to <= m.at
    ) {
      entries = core.entries(m.from, Math.min(m.to, m.from + this.#host.batch * 4 - 1));
      this.served += entries.length;
    }
    this.#host.send(from, { type: "Fetched", from: m.from, entries, cluster: core.cluster });
  }

  /** As leader: the digest of a range a follower fetched from a peer, if our log holds it. */
  serveSum(from: NodeId, m: Extract<CatchUpMessage, { type: "FetchSum" }>): void {
    const core = this.#host.core();
    let sum: Uint8Array = new Uint8Array(0);
    if (
      core.role === "leader" && m.cluster === core.cluster && core.termAt(m.at) === m.atTerm &&
      m.from >= core.firstIndex && m.from <= m.to && m.to <= m.at &&
      m.to - m.from < this.#host.batch * 4
    ) sum = rangeDigest(core.entries(m.from, m.to));
    this.#host.send(from, {
      type: "FetchSumR",
      from: m.from,
      to: m.to,
      sum,
      cluster: core.cluster,
    });
  }

  /** The leader's digest of a range: check the range a peer sent against it. */
  onSum(from: NodeId, m: Extract<CatchUpMessage, { type: "FetchSumR" }>): void {
    const c = this.#session;
    const asked = c?.sums.get(m.from);
    if (!c || from !== c.leader || m.cluster !== c.cluster || asked?.to !== m.to) return;
    const core = this.#host.core();
    if (m.sum.byteLength !== DIGEST_BYTES || core.term !== c.term || core.lead !== c.leader) {
      this.#session = undefined; // it compacted them: it sends a snapshot instead
      return;
    }
    asked.sum = m.sum;
    this.#verify(c, m.from);
    this.drive();
  }

  /** A peer's answer: keep it until the leader's digest vouches for it. */
  onFetched(from: NodeId, m: Extract<CatchUpMessage, { type: "Fetched" }>): void {
    const c = this.#session;
    const f = c?.inflight.get(from);
    const core = this.#host.core();
    if (!c || !f || f.from !== m.from || m.cluster !== c.cluster) return;
    if (core.term !== c.term || core.lead !== c.leader) {
      this.#session = undefined; // entries of an older leader must not replace newer ones
      return;
    }
    c.inflight.delete(from);
    if (!m.entries.length) c.refused.add(from);
    else if (!fits(m.entries, f.to, c.at, c.atTerm, committedTerm(core, m.from - 1))) {
      this.rejected++;
      c.refused.add(from);
    } else {
      c.pending.set(m.from, { entries: m.entries, peer: from });
      this.#verify(c, m.from);
    }
    this.drive();
  }

  /** Forgets the session (the member reset). */
  reset(): void {
    this.#session = undefined;
  }

  #askSum(c: Session, from: number, to: number): void {
    c.sums.set(from, { to, sent: this.#host.now() });
    const { at, atTerm, cluster } = c;
    this.#host.send(c.leader, { type: "FetchSum", from, to, at, atTerm, cluster });
  }

  /** Once both the range from `from` and the leader's digest of it arrived: take it or refuse its peer. */
  #verify(c: Session, from: number): void {
    const range = c.pending.get(from);
    const sum = c.sums.get(from)?.sum;
    if (!range || !sum) return;
    c.pending.delete(from);
    if (!sameDigest(rangeDigest(range.entries), sum)) {
      this.rejected++;
      c.refused.add(range.peer);
      return;
    }
    c.sums.delete(from);
    c.chunks.set(from, range.entries);
    const core = this.#host.core();
    for (;;) {
      const start = [...c.chunks.keys()].find((k) => k <= core.lastIndex + 1 && k <= c.cursor);
      if (start === undefined) break;
      const chunk = c.chunks.get(start)!;
      c.chunks.delete(start);
      appendVerified(core, chunk.filter((e) => e.index >= c.cursor));
      c.cursor = Math.max(c.cursor, start + chunk.length);
    }
  }
}

/** The term of entry `i` if it is committed here (an uncommitted one may differ from the leader's). */
function committedTerm(core: RaftCore, i: number): number | undefined {
  return i <= core.commit ? core.termAt(i) : undefined;
}

/**
 * Whether a range (contiguous from the index asked for, as the wire checks)
 * fits the leader's point (at, atTerm): exactly as long as asked, terms never
 * decreasing (from the entry before it, if committed here) nor above the
 * point's, and the point itself of the point's term.
 */
function fits(
  entries: Entry[],
  to: number,
  at: number,
  atTerm: number,
  before: number | undefined,
): boolean {
  if (entries[entries.length - 1].index !== to) return false;
  let term = before ?? 0;
  for (const e of entries) {
    if (e.term < term || e.term > atTerm || (e.index === at && e.term !== atTerm)) return false;
    term = e.term;
  }
  return true;
}

/**
 * Appends entries fetched from peers that hold the leader's (index, term)
 * point, hence equal the leader's log there: contiguous from at most
 * lastIndex + 1, never touching committed entries.
 */
function appendVerified(core: RaftCore, entries: Entry[]): void {
  if (core.role !== "follower" || !entries.length) return;
  const first = entries.findIndex((e) => e.index > core.commit);
  if (first < 0) return;
  const rest = entries.slice(first);
  if (rest[0].index > core.lastIndex + 1) return;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i].index !== rest[0].index + i) return;
  }
  const conflict = rest.findIndex((e) => core.termAt(e.index) !== e.term);
  if (conflict >= 0) core.append(rest.slice(conflict));
}
