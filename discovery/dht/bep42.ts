/**
 * BEP 42 node-id restriction: a node id whose first 21 bits are bound to the
 * node's external IP address (IPv4, or the high 64 bits of IPv6) by CRC32C,
 * so an attacker cannot choose its position in the keyspace freely. Also the
 * IP address text/byte conversions the DHT uses.
 *
 * @module
 */

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) of `bytes`, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Parses dotted IPv4 text to 4 bytes, or `undefined` when it is not IPv4. */
export function parseIPv4(ip: string): Uint8Array | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/**
 * Parses IPv6 text (with `::` and an optional trailing dotted IPv4 part,
 * without brackets or zone) to 16 bytes, or `undefined`.
 */
export function parseIPv6(ip: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || ip.split("::").length > 2) return undefined;
  let text = ip;
  if (text.includes(".")) {
    // A trailing dotted IPv4 part becomes two hex groups.
    const i = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(i + 1));
    if (i < 0 || !v4) return undefined;
    const hi = (v4[0] << 8 | v4[1]).toString(16), lo = (v4[2] << 8 | v4[3]).toString(16);
    text = `${text.slice(0, i + 1)}${hi}:${lo}`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const a = groups(head), b = rest === undefined ? [] : groups(rest);
  if ([...a, ...b].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const zeros = 8 - a.length - b.length;
  if (rest === undefined ? zeros !== 0 : zeros < 1) return undefined;
  const words = [...a, ...Array(rest === undefined ? 0 : zeros).fill("0"), ...b].map((g) =>
    parseInt(g, 16)
  );
  const out = new Uint8Array(16);
  words.forEach((w, k) => {
    out[2 * k] = w >> 8;
    out[2 * k + 1] = w & 0xff;
  });
  return out;
}

/** Parses IPv4 (4 bytes) or IPv6 (16 bytes) text; `undefined` for anything else. */
export function parseIP(ip: string): Uint8Array | undefined {
  return parseIPv4(ip) ?? parseIPv6(ip);
}

/** Formats 4 or 16 address bytes as text (IPv6 in its canonical compressed form). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const words = Array.from({ length: 8 }, (_, i) => bytes[2 * i] << 8 | bytes[2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * True for addresses BEP 42 exempts: loopback, private and link-local IPv4,
 * 0.0.0.0/8 (never an external address); for IPv6 anything but global
 * unicast (2000::/3); and text that is no IP address.
 */
export function isExempt(ip: string): boolean {
  const b = parseIP(ip);
  if (!b) return true;
  if (b.length === 16) return (b[0] & 0xe0) !== 0x20;
  return b[0] === 0 || b[0] === 10 || b[0] === 127 || (b[0] === 172 && (b[1] & 0xf0) === 16) ||
    (b[0] === 192 && b[1] === 168) || (b[0] === 169 && b[1] === 254);
}

const MASK4 = [0x03, 0x0f, 0x3f, 0xff];
const MASK6 = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

function prefix(ip: Uint8Array, r: number): number {
  const mask = ip.length === 4 ? MASK4 : MASK6;
  const masked = Uint8Array.from(mask, (m, i) => ip[i] & m);
  masked[0] |= (r & 7) << 5;
  return crc32c(masked);
}

/**
 * A fresh random node id that is valid under BEP 42 for `ip` (IPv4 or IPv6).
 * Exempt addresses get a plain random id. `rand` fixes the last byte
 * (for tests).
 *
 * @example
 * ```ts
 * import { isCompliant, nodeIdFor } from "@mosaik/discovery/dht";
 * const id = nodeIdFor("124.31.75.21");
 * console.assert(isCompliant(id, "124.31.75.21"));
 * ```
 */
export function nodeIdFor(ip: string, rand?: number): Uint8Array {
  const id = crypto.getRandomValues(new Uint8Array(20));
  const bytes = parseIP(ip);
  if (!bytes || isExempt(ip)) return id;
  if (rand !== undefined) id[19] = rand & 0xff;
  const crc = prefix(bytes, id[19] & 7);
  id[0] = crc >>> 24;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2] & 0x07);
  return id;
}

/**
 * True when `id` satisfies BEP 42 for `ip`, or `ip` is exempt. Used to rank
 * nodes, never to refuse answering them.
 */
export function isCompliant(id: Uint8Array, ip: string): boolean {
  const bytes = parseIP(ip);
  if (!bytes || isExempt(ip)) return true;
  if (id.length !== 20) return false;
  const crc = prefix(bytes, id[19] & 7);
  return id[0] === crc >>> 24 && id[1] === ((crc >>> 16) & 0xff) &&
    (id[2] & 0xf8) === ((crc >>> 8) & 0xf8);
}

/**
 * Learns our external address from what responders report (BEP 42 `ip`):
 * an address wins once `quorum` distinct voters named it. Exempt addresses
 * are ignored; the tally is bounded.
 *
 * @example
 * ```ts
 * import { AddressVotes } from "@mosaik/discovery/dht";
 * const votes = new AddressVotes(2);
 * votes.vote("8.8.4.4", "1.1.1.1");
 * console.assert(votes.vote("8.8.4.4", "9.9.9.9") === "8.8.4.4");
 * ```
 */
export class AddressVotes {
  readonly #votes = new Map<string, Set<string>>();
  /** Creates a tally that needs `quorum` distinct voters. Default 4. */
  constructor(readonly quorum = 4) {}

  /** Records that `voter` saw us as `address`; returns the address once it has a quorum. */
  vote(address: string, voter: string): string | undefined {
    if (isExempt(address)) return undefined;
    let voters = this.#votes.get(address);
    if (!voters) {
      if (this.#votes.size >= 64) this.#votes.clear(); // bounded against bogus claims
      this.#votes.set(address, voters = new Set());
    }
    if (voters.size < 64) voters.add(voter);
    return voters.size >= this.quorum ? address : undefined;
  }
}
