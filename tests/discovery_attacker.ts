// A scripted attacker on the real wire: an endpoint of the victim's network
// that speaks discovery's protocols by hand (see discovery/_wire.ts).
import { blake3 } from "@noble/hashes/blake3.js";
import { type Channel, encode, type Endpoint, peerIdToBytes, toHex } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { GOSSIP_PROTOCOL } from "@mosaik/discovery";
import type { TestNode } from "./_harness.ts";

/** The Plumtree id of a payload, as honest nodes compute it. */
export function contentId(payload: Uint8Array): Uint8Array {
  return blake3(payload).slice(0, 16);
}

/** A gossip message `[6, id, round, payload]` carrying `announcement`, with its content id unless `id` is given. */
export function gossipFrame(announcement: unknown, id?: Uint8Array): Uint8Array {
  return gossipPayload(encode(announcement), id);
}

/** A gossip message carrying `payload` as is. */
export function gossipPayload(payload: Uint8Array, id?: Uint8Array): Uint8Array {
  return encode([6, id ?? contentId(payload), 0, payload]);
}

/** Hex of a content id (for comparisons). */
export function contentIdHex(announcement: unknown): string {
  return toHex(contentId(encode(announcement)));
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
