// A scripted attacker on the real wire: an endpoint of the victim's network
// that speaks discovery's protocols by hand (see discovery/_wire.ts).
import {
  type Channel,
  decode,
  encode,
  type Endpoint,
  fromHex,
  type NetworkId,
  type PeerId,
  peerIdToBytes,
  SecretKey,
} from "@mosaik/transport";
import { generateKeyPairSync, sign } from "node:crypto";
import { eventually } from "@mosaik/transport/testing";
import {
  GOSSIP_PROTOCOL,
  type PeerEntry,
  type SignedPeerEntry,
  signEntry,
  SYNC_PROTOCOL,
} from "@mosaik/discovery";
import { payloadId } from "../discovery/_wire.ts";
import type { TestNode } from "./_harness.ts";

/** A gossip message `[6, id, round, payload]` carrying `announcement`, with its content id unless `id` is given. */
export function gossipFrame(announcement: unknown, id?: Uint8Array): Uint8Array {
  return gossipPayload(encode(announcement), id);
}

/** A gossip message carrying `payload` as is. */
export function gossipPayload(payload: Uint8Array, id?: Uint8Array): Uint8Array {
  return encode([6, id ?? fromHex(payloadId(payload)), 0, payload]);
}

/**
 * Makes `attacker` a gossip neighbour of `victim` (a HyParView JOIN) and
 * returns the channel it sends gossip on. Whatever the victim sends back is
 * read and dropped.
 */
export async function joinAsNeighbour(attacker: Endpoint, victim: TestNode): Promise<Channel> {
  attacker.handle(GOSSIP_PROTOCOL, async (ch) => {
    for await (const _ of ch) { /* drain */ }
  });
  const ch = await attacker.open(
    victim.endpoint.peerId,
    [victim.endpoint.hostPort],
    GOSSIP_PROTOCOL,
  );
  await ch.send([0, [peerIdToBytes(attacker.peerId), [attacker.hostPort]]]);
  await eventually(() => victim.discovery.neighbors().includes(attacker.peerId));
  return ch;
}

/** A node as an attacker reaches it (an `Endpoint` fits). */
export interface Reachable {
  readonly peerId: PeerId;
  readonly hostPort: string;
}

/**
 * One catalog sync as the requester, by hand: sends an empty summary, reads
 * the victim's reply, sends `entries` and returns the victim's last answer
 * (`"done"`, or `undefined` when it closed the channel).
 */
export async function syncEntries(
  attacker: Endpoint,
  victim: Reachable,
  entries: readonly Uint8Array[],
): Promise<unknown> {
  const ch = await attacker.open(victim.peerId, [victim.hostPort], SYNC_PROTOCOL);
  try {
    await ch.send([]);
    await ch.recv();
    await ch.send(entries);
    return await ch.recv().catch(() => undefined);
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * `n` entries of made-up peers, correctly shaped, each under a random key
 * with a random signature: cheap to make, and each one costs the victim a
 * signature check.
 */
export function forgedEntries(template: SignedPeerEntry, n: number): Uint8Array[] {
  const [body] = decode(template.bytes) as [Uint8Array];
  const fields = decode(body) as unknown[];
  return Array.from({ length: n }, () => {
    fields[2] = crypto.getRandomValues(new Uint8Array(32));
    return encode([encode(fields), crypto.getRandomValues(new Uint8Array(64))]);
  });
}

/**
 * `n` valid entries of made-up peers of `network`, each under its own fresh
 * key (as {@linkcode madeUpEntry}); keys are made and entries signed with
 * the runtime's native Ed25519 (~0.1 ms each), so a test can afford tens of
 * thousands.
 */
export function madeUpPeers(network: NetworkId, n: number): Uint8Array[] {
  const template = SecretKey.generate();
  const [body] = decode(signEntry(template, madeUpEntry(template, network)).bytes) as [
    Uint8Array,
  ];
  const fields = decode(body) as unknown[];
  return Array.from({ length: n }, () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    fields[2] = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(12));
    const signed = encode(fields);
    return encode([signed, new Uint8Array(sign(null, signed, privateKey))]);
  });
}

/** The entry of a made-up peer `key` of `network`: an unreachable address and nothing else. */
export function madeUpEntry(
  key: SecretKey,
  network: NetworkId,
  extra: Partial<PeerEntry> = {},
): PeerEntry {
  const now = Date.now();
  return {
    network,
    peerId: key.peerId,
    version: { start: now, counter: now },
    addresses: ["127.0.0.1:9"],
    tags: [],
    streams: [],
    groups: [],
    tickets: [],
    ...extra,
  };
}
