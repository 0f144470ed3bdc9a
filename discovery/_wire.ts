/**
 * Wire forms of the gossip, announcement and sync messages, with strict
 * decoders that throw {@linkcode DecodeError} on anything malformed.
 *
 * @module
 */
import {
  decode,
  DecodeError,
  encode,
  fromHex,
  peerIdFromBytes,
  peerIdToBytes,
  toHex,
} from "@mosaik/transport";
import { createHash } from "node:crypto";
import type { HvMessage, PeerInfo } from "./_hyparview.ts";
import type { PtMessage } from "./_plumtree.ts";
import { array, bool, bytes, text, uint } from "./_check.ts";
import type { EntryVersion } from "./entry.ts";
import { Reader } from "./_reader.ts";

/** Any message on the gossip protocol. */
export type GossipMessage = HvMessage | PtMessage;

const KINDS = [
  "join",
  "forwardJoin",
  "neighbor",
  "disconnect",
  "shuffle",
  "shuffleReply",
  "gossip",
  "ihave",
  "graft",
  "prune",
] as const;
const MAX_NODES = 64;
const MAX_IDS = 256;
const ID_BYTES = 16;

function peerInfo(p: PeerInfo): unknown {
  return [peerIdToBytes(p.id), p.addresses];
}

function readPeerInfo(v: unknown): PeerInfo {
  const [id, addrs] = array(v, "peer", 2, 2);
  return {
    id: peerIdFromBytes(bytes(id, "peer id", 32)),
    addresses: array(addrs, "addresses", 16).map((a) => text(a, "address", 300)),
  };
}

function readTtl(v: unknown): number {
  const ttl = uint(v, "ttl");
  if (ttl > 32) throw new DecodeError("ttl too large");
  return ttl;
}

/** Encodes a gossip message as a MessagePack-ready array. */
export function encodeGossip(m: GossipMessage): unknown {
  const k = KINDS.indexOf(m.kind);
  switch (m.kind) {
    case "join":
      return [k, peerInfo(m.peer)];
    case "forwardJoin":
      return [k, peerInfo(m.peer), m.ttl];
    case "neighbor":
      return [k, peerInfo(m.peer), m.high];
    case "disconnect":
      return [k, m.alive];
    case "shuffle":
      return [k, peerInfo(m.origin), m.nodes.map(peerInfo), m.ttl];
    case "shuffleReply":
      return [k, m.nodes.map(peerInfo)];
    case "gossip":
      return [k, fromHex(m.id), m.round, m.payload];
    case "ihave":
      return [k, m.entries.map(([id, round]) => [fromHex(id), round])];
    case "graft":
      return [k, m.ids.map(fromHex)];
    case "prune":
      return [k];
  }
}

/** Decodes a gossip message; throws {@linkcode DecodeError}. */
export function decodeGossip(v: unknown, maxPayload: number): GossipMessage {
  const a = array(v, "gossip message", 4, 1);
  const kind = KINDS[uint(a[0], "kind")];
  switch (kind) {
    case "join":
      return { kind, peer: readPeerInfo(a[1]) };
    case "forwardJoin":
      return { kind, peer: readPeerInfo(a[1]), ttl: readTtl(a[2]) };
    case "neighbor":
      return { kind, peer: readPeerInfo(a[1]), high: bool(a[2], "high") };
    case "disconnect":
      return { kind, alive: bool(a[1], "alive") };
    case "shuffle":
      return {
        kind,
        origin: readPeerInfo(a[1]),
        nodes: array(a[2], "nodes", MAX_NODES).map(readPeerInfo),
        ttl: readTtl(a[3]),
      };
    case "shuffleReply":
      return { kind, nodes: array(a[1], "nodes", MAX_NODES).map(readPeerInfo) };
    case "gossip":
      return {
        kind,
        id: toHex(bytes(a[1], "id", ID_BYTES)),
        round: uint(a[2], "round"),
        payload: bytes(a[3], "payload", undefined, maxPayload),
      };
    case "ihave":
      return {
        kind,
        entries: array(a[1], "ihave", MAX_IDS).map((e) => {
          const [id, round] = array(e, "ihave entry", 2, 2);
          return [toHex(bytes(id, "id", ID_BYTES)), uint(round, "round")];
        }),
      };
    case "graft":
      return {
        kind,
        ids: array(a[1], "graft", MAX_IDS).map((id) => toHex(bytes(id, "id", ID_BYTES))),
      };
    case "prune":
      return { kind };
    default:
      throw new DecodeError("unknown gossip message kind");
  }
}

/** What a broadcast payload carries. */
export type Announcement =
  | { kind: "entry"; bytes: Uint8Array }
  | { kind: "departure"; bytes: Uint8Array }
  | { kind: "notice"; peer: PeerInfo; version: EntryVersion };

/** Encodes a broadcast payload. */
export function encodeAnnouncement(a: Announcement): unknown {
  switch (a.kind) {
    case "entry":
      return [0, a.bytes];
    case "departure":
      return [1, a.bytes];
    case "notice":
      return [2, peerInfo(a.peer), a.version.start, a.version.counter];
  }
}

/**
 * The entry bytes of a payload that is an entry announcement, read without
 * decoding it; `undefined` for anything else.
 */
export function announcedEntry(payload: Uint8Array): Uint8Array | undefined {
  try {
    const r = new Reader(payload);
    r.array("announcement", 2, 2);
    return r.uint("announcement kind") === 0 ? r.bin("entry") : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a broadcast payload; throws {@linkcode DecodeError}. */
export function decodeAnnouncement(v: unknown): Announcement {
  const a = array(v, "announcement", 4, 2);
  switch (a[0]) {
    case 0:
      return { kind: "entry", bytes: bytes(a[1], "entry") };
    case 1:
      return { kind: "departure", bytes: bytes(a[1], "departure") };
    case 2:
      return {
        kind: "notice",
        peer: readPeerInfo(a[1]),
        version: { start: uint(a[2], "start"), counter: uint(a[3], "counter") },
      };
    default:
      throw new DecodeError("unknown announcement kind");
  }
}

/** `[body, signature]` of a signed entry or departure, whatever its encoding. */
function signedParts(raw: Uint8Array): unknown[] {
  const [body, signature] = array(decode(raw), "signed", 2, 2);
  return [bytes(body, "body"), bytes(signature, "signature", 64)];
}

/**
 * The Plumtree id of a broadcast payload: the first 16 bytes of the SHA-256
 * digest of what it says, hex: the signed body (with its version) and the
 * signature of an entry or departure, the peer and version a notice names.
 * Receivers recompute it, so an id always names its content and a replay,
 * under another id or in another encoding, is a duplicate. An undecodable
 * payload's id is its bytes' (delivering it fails anyway).
 */
export function payloadId(payload: Uint8Array): string {
  let content = payload;
  try {
    const a = decodeAnnouncement(decode(payload));
    content = encode(
      a.kind === "notice"
        ? [2, peerIdToBytes(a.peer.id), a.version.start, a.version.counter]
        : [a.kind === "entry" ? 0 : 1, ...signedParts(a.bytes)],
    );
  } catch {
    // Not an announcement.
  }
  return idOf(content);
}

/** The {@linkcode payloadId} of the announcement of the signed entry `bytes`. */
export function entryPayloadId(bytes: Uint8Array): string {
  return idOf(encode([0, ...signedParts(bytes)]));
}

function idOf(content: Uint8Array): string {
  // Native SHA-256: noble's BLAKE3 allocated ~36 KiB of garbage per id
  // (every received broadcast computes one), which grew V8's heap under floods.
  return createHash("sha256").update(content).digest("hex").slice(0, ID_BYTES * 2);
}
