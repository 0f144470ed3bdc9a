/**
 * Signed graceful departures: a peer that leaves on purpose says so, and
 * every catalog drops its entry at once instead of waiting for it to expire.
 *
 * @module
 */
import {
  decode,
  DecodeError,
  digestBytes,
  encode,
  type NetworkId,
  type PeerId,
  peerIdFromBytes,
  type SecretKey,
  verify,
} from "@mosaik/transport";
import { array, bytes, uint } from "./_check.ts";
import { type EntryVersion, envelope, InvalidEntryError, networkField } from "./entry.ts";

const DEPARTURE_DOMAIN = "mosaik/discovery/departure/1";

/** A verified, signed notice that a peer left on purpose. */
export interface Departure {
  /** The network of the departing peer. */
  readonly network: NetworkId;
  /** The departing peer. */
  readonly peerId: PeerId;
  /** The last version of its entry; removes only entries no newer than this. */
  readonly version: EntryVersion;
  /** Unix ms at which it left. */
  readonly timestamp: number;
  /** The encoded `[body, signature]`. */
  readonly bytes: Uint8Array;
}

/** Signs a graceful departure for `key`'s peer. */
export function signDeparture(
  key: SecretKey,
  network: NetworkId,
  version: EntryVersion,
  timestamp: number = Date.now(),
): Departure {
  const body = encode([
    DEPARTURE_DOMAIN,
    digestBytes(network),
    key.publicKey,
    version.start,
    version.counter,
    timestamp,
  ]);
  return Object.freeze({
    network,
    peerId: key.peerId,
    version: Object.freeze({ start: version.start, counter: version.counter }),
    timestamp,
    bytes: encode([body, key.sign(body)]),
  });
}

/** Decodes and verifies a departure; throws {@linkcode InvalidEntryError}. */
export function decodeDeparture(raw: Uint8Array): Departure {
  const [body, signature] = envelope(raw, "departure");
  let departure: Departure;
  let key: Uint8Array;
  try {
    const f = array(decode(body), "departure", 6, 6);
    if (f[0] !== DEPARTURE_DOMAIN) throw new DecodeError("not a departure");
    key = bytes(f[2], "peer id", 32);
    departure = Object.freeze({
      network: networkField(f[1]),
      peerId: peerIdFromBytes(key),
      version: Object.freeze({ start: uint(f[3], "start"), counter: uint(f[4], "counter") }),
      timestamp: uint(f[5], "timestamp"),
      bytes: raw,
    });
  } catch (cause) {
    throw new InvalidEntryError("undecodable", "undecodable departure", { cause });
  }
  if (!verify(key, body, signature)) {
    throw new InvalidEntryError(
      "bad-signature",
      `bad signature on the departure of ${departure.peerId}`,
    );
  }
  return departure;
}
