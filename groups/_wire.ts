// Validation of everything a bond receives: malformed or oversized input is
// rejected with a DecodeError before it reaches the Raft core.
import { DecodeError, ownBytes } from "@mosaik/transport";
import type { ReplicaMessage } from "./_replica_types.ts";
import type { Envelope } from "./_messages.ts";
import type { Config, Entry, Snapshot } from "./storage.ts";
import { MAX_MANIFEST_BYTES, MAX_PIECE_BYTES } from "./_snapshot_pull.ts";

/** The group protocol's name on the endpoint. */
export const PROTOCOL = "/mosaik/groups/1";

/** First frames of a bond. */
export type Hello = { t: "hello"; group: string; proof: Uint8Array };
/** The acceptor's answer. */
export type Welcome = { t: "welcome"; proof: Uint8Array };

const MAX_MEMBERS = 1024;
const MAX_ID = 128;
/** Largest snapshot a member accepts (its buffer is allocated on the first chunk). */
const MAX_SNAPSHOT = 1 << 30;

function fail(what: string): never {
  throw new DecodeError(`invalid group message: ${what}`);
}

function obj(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x) || x instanceof Uint8Array) {
    fail(what);
  }
  return x as Record<string, unknown>;
}

/**
 * Terms, indexes and counts on the wire stay below 2^48: far above anything
 * a real group reaches, and 2^5 below the largest safe integer, so a peer can
 * never push a member's term to a value whose successor cannot be expressed.
 */
export const MAX_WIRE_NUMBER = 2 ** 48;

function nat(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0 || x > MAX_WIRE_NUMBER) {
    fail(what);
  }
  return x;
}

function str(x: unknown, what: string, max = MAX_ID): string {
  if (typeof x !== "string" || x.length > max) fail(what);
  return x;
}

function optStr(x: unknown, what: string): string | undefined {
  return x == null ? undefined : str(x, what);
}

/**
 * Bytes of a decoded message that may outlive their frame (log entries,
 * proposals, snapshots): a view when it fills at least half of the frame (it
 * pins at most as much again, and a large entry is not copied once more),
 * else an owned copy.
 */
function bytes(x: unknown, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) fail(what);
  return 2 * x.byteLength >= x.buffer.byteLength ? x : ownBytes(x);
}

function ids(x: unknown, what: string): string[] {
  if (!Array.isArray(x) || x.length > MAX_MEMBERS) fail(what);
  return x.map((v) => str(v, what));
}

function epochs(x: unknown): Record<string, string> | undefined {
  if (x == null) return undefined;
  const list = Object.entries(obj(x, "epochs"));
  if (list.length > 2 * MAX_MEMBERS) fail("epochs");
  return Object.fromEntries(list.map(([k, v]) => [str(k, "epochs"), str(v, "epochs")]));
}

function config(x: unknown): Config {
  const c = obj(x, "config");
  const out: Config = {
    cluster: str(c.cluster, "cluster"),
    voters: ids(c.voters, "voters"),
    learners: ids(c.learners, "learners"),
  };
  const e = epochs(c.epochs);
  if (e) out.epochs = e;
  return out;
}

function entry(x: unknown): Entry {
  const e = obj(x, "entry");
  const type = nat(e.type, "entry type");
  if (type > 2) fail("entry type");
  const out: Entry = {
    index: nat(e.index, "index"),
    term: nat(e.term, "term"),
    type: type as 0 | 1 | 2,
  };
  if (type === 1) out.data = bytes(e.data, "entry data");
  if (type === 2) out.config = config(e.config);
  return out;
}

function snapshot(x: unknown): Snapshot {
  const s = obj(x, "snapshot");
  return {
    index: nat(s.index, "index"),
    term: nat(s.term, "term"),
    config: config(s.config),
    data: bytes(s.data, "data"),
  };
}

/** Validates and normalizes a bond message. */
export function parseMessage(x: unknown): ReplicaMessage {
  const m = obj(x, "message");
  const out = parseBody(m, str(m.type, "type", 16), optStr(m.cluster, "cluster"));
  const epoch = optStr(m.epoch, "epoch");
  if (epoch !== undefined && "term" in out) (out as Envelope).epoch = epoch;
  return out;
}

function parseBody(m: Record<string, unknown>, type: string, cluster?: string): ReplicaMessage {
  switch (type) {
    case "Prop": {
      if (!Array.isArray(m.data) || m.data.length > 100_000) fail("proposals");
      return { type, data: m.data.map((d) => bytes(d, "proposal")) };
    }
    case "Status":
      return {
        type,
        cluster,
        commit: nat(m.commit, "commit"),
        learner: m.learner === true,
        lead: optStr(m.lead, "lead"),
        best: m.best == null ? undefined : nat(m.best, "best"),
        never: m.never === true ? true : undefined,
        epoch: optStr(m.epoch, "epoch"),
        forms: m.forms === true ? true : undefined,
      };
    case "Leave":
    case "Left":
      return { type };
    case "Fetch":
      return {
        type,
        cluster,
        from: nat(m.from, "from"),
        to: nat(m.to, "to"),
        at: nat(m.at, "at"),
        atTerm: nat(m.atTerm, "atTerm"),
      };
    case "Fetched": {
      if (!Array.isArray(m.entries) || m.entries.length > 100_000) fail("entries");
      const from = nat(m.from, "from");
      const entries = m.entries.map(entry);
      entries.forEach((e, i) => e.index !== from + i && fail("entry indexes"));
      return { type, cluster, from, entries };
    }
    case "FetchSum":
      return {
        type,
        cluster,
        from: nat(m.from, "from"),
        to: nat(m.to, "to"),
        at: nat(m.at, "at"),
        atTerm: nat(m.atTerm, "atTerm"),
      };
    case "FetchSumR": {
      const sum = bytes(m.sum, "sum");
      if (sum.byteLength > 32) fail("sum");
      return { type, cluster, from: nat(m.from, "from"), to: nat(m.to, "to"), sum };
    }
    case "SnapPlan":
      return {
        type,
        cluster,
        index: nat(m.index, "index"),
        term: nat(m.term, "term"),
        first: nat(m.first, "first"),
      };
    case "SnapPlanR": {
      const digests = bytes(m.digests, "digests");
      if (digests.byteLength > MAX_MANIFEST_BYTES) fail("digests");
      return {
        type,
        cluster,
        index: nat(m.index, "index"),
        term: nat(m.term, "term"),
        piece: nat(m.piece, "piece"),
        first: nat(m.first, "first"),
        digests,
      };
    }
    case "SnapGet":
      return {
        type,
        cluster,
        index: nat(m.index, "index"),
        term: nat(m.term, "term"),
        crc: nat(m.crc, "crc"),
        total: nat(m.total, "total"),
        offset: nat(m.offset, "offset"),
        length: nat(m.length, "length"),
      };
    case "SnapPiece": {
      const data = bytes(m.data, "piece");
      if (data.byteLength > MAX_PIECE_BYTES) fail("piece");
      return { type, cluster, index: nat(m.index, "index"), offset: nat(m.offset, "offset"), data };
    }
    case "PreVote":
    case "Vote":
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        lastIndex: nat(m.lastIndex, "lastIndex"),
        lastTerm: nat(m.lastTerm, "lastTerm"),
        force: m.force === true ? true : undefined,
        voterEpoch: optStr(m.voterEpoch, "voterEpoch"),
      };
    case "PreVoteR":
    case "VoteR":
      return { type, cluster, term: nat(m.term, "term"), reject: m.reject === true };
    case "App": {
      if (!Array.isArray(m.entries) || m.entries.length > 100_000) fail("entries");
      const entries = m.entries.map(entry);
      const prevIndex = nat(m.prevIndex, "prevIndex");
      entries.forEach((e, i) => e.index !== prevIndex + 1 + i && fail("entry indexes"));
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        prevIndex,
        prevTerm: nat(m.prevTerm, "prevTerm"),
        entries,
        commit: nat(m.commit, "commit"),
      };
    }
    case "AppR":
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        index: nat(m.index, "index"),
        reject: m.reject === true,
        hint: nat(m.hint, "hint"),
        hintTerm: nat(m.hintTerm, "hintTerm"),
      };
    case "Hb":
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        commit: nat(m.commit, "commit"),
        ctx: optStr(m.ctx, "ctx"),
        lc: m.lc == null ? undefined : nat(m.lc, "lc"),
        lct: m.lct == null ? undefined : nat(m.lct, "lct"),
      };
    case "HbR":
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        ctx: optStr(m.ctx, "ctx"),
        last: m.last == null ? undefined : nat(m.last, "last"),
      };
    case "Snap": {
      const snap = snapshot(m.snapshot);
      const offset = nat(m.offset, "offset");
      const total = nat(m.total, "total");
      if (total > MAX_SNAPSHOT || offset + snap.data.byteLength > total) fail("snapshot chunk");
      const crc = nat(m.crc, "crc");
      if (crc > 0xffffffff) fail("crc");
      return { type, cluster, term: nat(m.term, "term"), snapshot: snap, offset, total, crc };
    }
    case "SnapR":
      return {
        type,
        cluster,
        term: nat(m.term, "term"),
        index: nat(m.index, "index"),
        offset: nat(m.offset, "offset"),
      };
    case "TimeoutNow":
      return { type, cluster, term: nat(m.term, "term") };
    case "ReadIndex":
      return { type, cluster, term: nat(m.term, "term"), ctx: str(m.ctx, "ctx") };
    case "ReadIndexR": {
      const index = m.index === -1 ? -1 : nat(m.index, "index");
      return { type, cluster, term: nat(m.term, "term"), ctx: str(m.ctx, "ctx"), index };
    }
  }
  fail(`unknown type ${type}`);
}

/** Validates a hello frame. */
export function parseHello(x: unknown): Hello {
  const m = obj(x, "hello");
  if (m.t !== "hello") fail("hello");
  const proof = bytes(m.proof, "proof");
  if (proof.length !== 32) fail("proof");
  return { t: "hello", group: str(m.group, "group", 64), proof };
}

/** Validates a welcome frame. */
export function parseWelcome(x: unknown): Welcome {
  const m = obj(x, "welcome");
  if (m.t !== "welcome") fail("welcome");
  const proof = bytes(m.proof, "proof");
  if (proof.length !== 32) fail("proof");
  return { t: "welcome", proof };
}
