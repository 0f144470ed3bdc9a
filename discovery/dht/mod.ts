/**
 * A hand-rolled Mainline DHT (BEP 5) node for Deno, and a rendezvous on it
 * that lets nodes sharing only a NetworkId find each other.
 *
 * - {@linkcode DhtNode}: KRPC over UDP (ping, find_node, get_peers,
 *   announce_peer, get, put), a `k-bucket` routing table (k = 8), iterative
 *   lookups (alpha = 3, ending when the k closest live nodes have answered),
 *   rotating-secret write tokens, BEP 42 node ids (valid for our voted
 *   external address; non-compliant nodes rank last and are never storage
 *   targets), BEP 44 immutable and mutable items (`seq`, `salt`, `cas`), and
 *   BEP 32 for a node bound to an IPv6 address (`nodes6`, 38-byte compact
 *   nodes; IPv4 and IPv6 are separate DHTs, one node per family). It answers
 *   other nodes too. Malformed datagrams are dropped and counted in
 *   {@linkcode DhtStats}; dead contacts leave the table after two failures
 *   and stop blocking lookups after a few smoothed RTTs.
 * - Strict bencode ({@linkcode decode} rejects anything non-canonical).
 * - {@linkcode dhtBootstrap}: a `BootstrapSource` for `@mosaik/discovery`.
 * - `cli.ts`: `mosaik dht get|put|lookup|peers` for inspecting a swarm.
 *
 * ## The rendezvous scheme
 *
 * The Rust crate keeps 16 slots whose *private* keys derive from the
 * NetworkId, so anyone who knows the id can overwrite every slot. Here no
 * record is writable by anyone but its subject:
 *
 * 1. **Keys.** From the NetworkId `N`: a record salt
 *    `S = derive(N, "mosaik/dht/record/v1")` and `R` (default 4) rendezvous
 *    infohashes `I_j = derive(N, "mosaik/dht/rendezvous/v1/" + j)[0..20]`
 *    (see {@linkcode rendezvousKeys}). Different `I_j` land on different
 *    storage nodes.
 * 2. **Records are self-certifying.** A peer's record is a BEP 44 mutable
 *    item signed with the peer's *own* Ed25519 key (so `k` is its PeerId),
 *    salt `S` (which binds it to the network), `seq` = publication time in ms
 *    and `v = { a: ["host:port", ...] }` (its QUIC addresses). Only the peer
 *    can write it; a newer `seq` replaces an older one. It is stored at
 *    SHA-1(k ‖ S) ({@linkcode Rendezvous.publish}), so any member can resolve
 *    a known PeerId's addresses ({@linkcode Rendezvous.resolve}).
 * 3. **Announces point at publishers.** Each peer announces its DHT endpoint
 *    (`announce_peer` with `implied_port`) on every `I_j`. Announces are
 *    additive: storage nodes keep many per infohash and tokens bind each to
 *    its sender's IP, so one writer cannot remove anybody else's.
 * 4. **Fetch and verify.** A searcher runs `get_peers(I_j)` for all `j`, then
 *    asks each endpoint directly for its record with the KRPC extension
 *    method {@linkcode RECORD_METHOD} (`{ salt: S }` → `{ k, seq, sig, v }`;
 *    other implementations answer 204). It verifies the signature against
 *    `k` and `S` and offers `"<PeerId>@host:port"` to discovery, where the
 *    QUIC handshake pins that PeerId.
 *
 * Against a rogue that knows `N`: it cannot forge or overwrite honest
 * records (signatures), cannot remove honest announces (additive, IP-bound
 * tokens; our own storage nodes also cap entries per IP and answer a random
 * sample), and garbage endpoints or records only cost bounded work: each
 * round asks at most `budget` endpoints in parallel with a short timeout,
 * unseen endpoints first, failed ones backing off exponentially, and bad
 * signatures are dropped and counted. Valid records of the rogue's own keys
 * only name addresses whose handshake must prove that key.
 *
 * **Schedule.** While the node has no peers, rounds run every second
 * (backing off to ten) and announce each time; once it has peers, every
 * minute, re-announcing and republishing every ten minutes or when our
 * addresses change.
 *
 * **Permissions.** `--unstable-net`, and `--allow-net` for the bind address,
 * the routers and the nodes met. Tests pass loopback routers and run with
 * `--allow-net=127.0.0.1`, which proves the public routers in
 * {@linkcode PUBLIC_ROUTERS} are never contacted (sends to them are denied
 * and counted).
 *
 * @example
 * ```ts
 * import { decodeBencode, encodeBencode } from "@mosaik/discovery/dht";
 * const bytes = encodeBencode({ y: "q", q: "ping" });
 * console.assert(bytes.length > 0 && decodeBencode(bytes) !== undefined);
 * ```
 *
 * @module
 */
export * from "./bencode.ts";
export * from "./bep42.ts";
export * from "./bep44.ts";
export * from "./krpc.ts";
export * from "./node.ts";
export * from "./types.ts";
export * from "./rendezvous.ts";
export * from "./source.ts";
// Re-exported so the types this module's API mentions are documented with it.
export { DecodeError, MosaikError, SecretKey } from "@mosaik/transport";
export type { Digest, NetworkId, PeerId } from "@mosaik/transport";
export type { BootstrapContext, BootstrapSource } from "../bootstrap.ts";
