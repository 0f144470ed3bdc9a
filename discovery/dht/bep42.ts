/**
 * BEP 42 node-id restriction: a node id whose first 21 bits are bound to the
 * node's external IPv4 address by CRC32C, so an attacker cannot choose its
 * position in the keyspace freely.
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
 * True for addresses BEP 42 exempts (loopback, private and link-local IPv4),
 * for 0.0.0.0/8 (never an external address), and for anything that is not
 * IPv4 (this client only enforces IPv4).
 */
export function isExempt(ip: string): boolean {
  const b = parseIPv4(ip);
  if (!b) return true;
  return b[0] === 0 || b[0] === 10 || b[0] === 127 || (b[0] === 172 && (b[1] & 0xf0) === 16) ||
    (b[0] === 192 && b[1] === 168) || (b[0] === 169 && b[1] === 254);
}

function prefix(ip: Uint8Array, r: number): number {
  const masked = new Uint8Array([ip[0] & 0x03, ip[1] & 0x0f, ip[2] & 0x3f, ip[3] & 0xff]);
  masked[0] |= (r & 7) << 5;
  return crc32c(masked);
}

/**
 * A fresh random node id that is valid under BEP 42 for `ip` (IPv4). Exempt
 * or non-IPv4 addresses get a plain random id. `rand` fixes the last byte
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
  const bytes = parseIPv4(ip);
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
  const bytes = parseIPv4(ip);
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
