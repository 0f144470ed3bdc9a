/**
 * DNS-SD records of a mosaik node and the parsing of mDNS packets, encoded
 * with `dns-packet`. Pure functions: no sockets here.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { type NetworkId, parsePeerId, type PeerId } from "@mosaik/transport";

/** The DNS-SD service type every mosaik node registers. */
export const SERVICE = "_mosaik._udp.local";
/** Record TTL in seconds (RFC 6762 recommends 120 for host-bound records). */
export const TTL = 120;

/**
 * The DNS-SD subtype a network's nodes register, so a query can ask for one
 * network only: `_n<first 16 hex chars of the NetworkId>._sub._mosaik._udp.local`.
 */
export function networkSubtype(network: NetworkId): string {
  return `_n${network.slice(0, 16)}._sub.${SERVICE}`;
}

/** The instance name of a peer: `<PeerId>._mosaik._udp.local`. */
export function instanceName(peer: PeerId): string {
  return `${peer}.${SERVICE}`;
}

/** What a node announces about itself. */
export interface Announcement {
  /** The network. */
  network: NetworkId;
  /** The announcing peer. */
  peerId: PeerId;
  /** Its QUIC addresses, `host:port`. */
  addresses: string[];
}

/** A resource record in `dns-packet`'s shape. */
export interface Answer {
  /** Owner name. */
  name: string;
  /** Record type (`"PTR"`, `"SRV"`, `"TXT"`, `"A"`, ...). */
  type: string;
  /** Time to live in seconds; 0 is a goodbye. */
  ttl?: number;
  /** The mDNS cache-flush bit. */
  flush?: boolean;
  /** Type-specific data. */
  data?: unknown;
}

interface Packet {
  type?: string;
  questions?: { name: string; type: string }[];
  answers?: Answer[];
  additionals?: Answer[];
}

const td = new TextDecoder();

function hostOf(address: string): string {
  const i = address.lastIndexOf(":");
  return address.slice(0, i).replace(/^\[|\]$/g, "");
}

/**
 * The records announcing `a`: PTRs for the service and the network subtype,
 * SRV, TXT (`net=<NetworkId>` and one `addr=host:port` per address) and A
 * records for the IPv4 hosts. `ttl` 0 makes a goodbye.
 */
export function answers(a: Announcement, ttl = TTL): Answer[] {
  const instance = instanceName(a.peerId);
  const host = `${a.peerId}.local`;
  const port = Number(a.addresses[0]?.slice(a.addresses[0].lastIndexOf(":") + 1) ?? 0);
  const out: Answer[] = [
    { name: SERVICE, type: "PTR", ttl, data: instance },
    { name: networkSubtype(a.network), type: "PTR", ttl, data: instance },
    {
      name: instance,
      type: "SRV",
      ttl,
      flush: true,
      data: { port, target: host, priority: 0, weight: 0 },
    },
    {
      name: instance,
      type: "TXT",
      ttl,
      flush: true,
      data: [`net=${a.network}`, ...a.addresses.map((x) => `addr=${x}`)],
    },
  ];
  const hosts = new Set(a.addresses.map(hostOf).filter((h) => /^\d+\.\d+\.\d+\.\d+$/.test(h)));
  for (const h of hosts) out.push({ name: host, type: "A", ttl, flush: true, data: h });
  return out;
}

/** An encoded mDNS response (unsolicited announcement, reply, or goodbye with `ttl` 0). */
export function encodeResponse(a: Announcement, ttl = TTL): Uint8Array {
  return new Uint8Array(dnsPacket.encode({
    type: "response",
    id: 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    answers: answers(a, ttl),
  }));
}

/** An encoded mDNS query for the network's subtype (and the plain service type). */
export function encodeQuery(network: NetworkId): Uint8Array {
  return new Uint8Array(dnsPacket.encode({
    type: "query",
    id: 0,
    questions: [{ name: networkSubtype(network), type: "PTR" }, { name: SERVICE, type: "PTR" }],
  }));
}

/** What one packet tells a node of `network`. */
export interface Parsed {
  /** True when the packet is a query we should answer. */
  query: boolean;
  /** Peers of our network announced (or saying goodbye, `ttl` 0) in it. */
  peers: { peerId: PeerId; addresses: string[]; goodbye: boolean }[];
}

const INSTANCE_RE = /^([a-z0-9]{52})\._mosaik\._udp\.local$/i;

/**
 * Parses an mDNS packet. Never throws: malformed input returns `undefined`
 * (the caller counts it).
 */
export function parsePacket(bytes: Uint8Array, network: NetworkId): Parsed | undefined {
  let packet: Packet;
  try {
    packet = dnsPacket.decode(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ) as Packet;
  } catch {
    return undefined;
  }
  try {
    return interpret(packet, network);
  } catch {
    return undefined;
  }
}

function interpret(packet: Packet, network: NetworkId): Parsed {
  const wanted = new Set([SERVICE, networkSubtype(network), "_services._dns-sd._udp.local"]);
  const query = packet.type === "query" &&
    (packet.questions ?? []).some((q) =>
      typeof q.name === "string" && wanted.has(q.name.toLowerCase()) &&
      (q.type === "PTR" || q.type === "ANY")
    );
  const peers: Parsed["peers"] = [];
  if (packet.type !== "response") return { query, peers };
  for (const r of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
    if (r.type !== "TXT" || typeof r.name !== "string" || !Array.isArray(r.data)) continue;
    const m = INSTANCE_RE.exec(r.name);
    if (!m) continue;
    let peerId: PeerId;
    try {
      peerId = parsePeerId(m[1].toLowerCase());
    } catch {
      continue;
    }
    const entries = (r.data as unknown[]).map((d) =>
      d instanceof Uint8Array ? td.decode(d) : typeof d === "string" ? d : ""
    );
    if (!entries.includes(`net=${network}`)) continue;
    const addresses = entries.filter((e) => e.startsWith("addr=") && e.length < 70).map((e) =>
      e.slice(5)
    )
      .filter((x) => /^(\[[0-9a-fA-F:.]+\]|[0-9a-zA-Z.-]+):\d{1,5}$/.test(x)).slice(0, 16);
    peers.push({ peerId, addresses, goodbye: r.ttl === 0 });
  }
  return { query, peers };
}
