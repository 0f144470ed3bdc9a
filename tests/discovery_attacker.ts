// A scripted attacker on the real wire: an endpoint of the victim's network
// that speaks discovery's protocols by hand (see discovery/_wire.ts).
import { type Channel, encode, type Endpoint, fromHex, peerIdToBytes } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { GOSSIP_PROTOCOL } from "@mosaik/discovery";
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
