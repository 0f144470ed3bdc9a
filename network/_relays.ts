// A node's part in relaying: serving as a relay (`relay: true`, advertised
// by the RELAY_TAG tag) and holding reservations, with the relays it was
// given (`relays`) or, once peers see it behind a NAT, with up to two relays
// from the catalog. The entry carries their relayed addresses while reserved.
import type { Discovery } from "@mosaik/discovery";
import {
  type Endpoint,
  isRelayAddress,
  type PeerId,
  Relay,
  RelayReservation,
  tag,
} from "@mosaik/transport";

/** The tag a relay advertises. */
export const RELAY_TAG = tag("mosaik/relay");
const AUTO_RELAYS = 2;
const CHECK_EVERY = 5_000;

export class Relaying {
  /** The relay this node serves, if `relay: true`. */
  readonly relay: Relay | undefined;
  #endpoint: Endpoint;
  #reservations = new Map<PeerId, RelayReservation>();
  #onChange = () => {};
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(endpoint: Endpoint, relay = false) {
    this.#endpoint = endpoint;
    this.relay = relay ? Relay.serve(endpoint) : undefined;
  }

  /** Tags to advertise. */
  get tags() {
    return this.relay ? [RELAY_TAG] : [];
  }

  /**
   * Reserves with `relays`; without any (and when not a relay itself), once
   * `discovery` says the node is behind a NAT, with relays from the catalog
   * (re-checked every 5 s). A change of reservation re-announces the entry.
   */
  start(discovery: Discovery, relays: string[] = []): void {
    this.#onChange = () => discovery.checkAddresses();
    for (const r of relays) this.#reserve(r);
    if (this.relay || relays.length > 0) return;
    this.#timer = setInterval(() => {
      if (!discovery.behindNat || this.#reservations.size >= AUTO_RELAYS) return;
      const relays = discovery.catalog.peers().filter((e) =>
        e.tags.includes(RELAY_TAG) && !this.#reservations.has(e.peerId)
      );
      for (const e of relays.slice(0, AUTO_RELAYS - this.#reservations.size)) {
        const direct = e.addresses.find((a) => !isRelayAddress(a));
        if (direct) this.#reserve(`${e.peerId}@${direct}`);
      }
    }, CHECK_EVERY);
  }

  #reserve(relay: string): void {
    const r = new RelayReservation(this.#endpoint, relay, { onChange: this.#onChange });
    this.#reservations.set(relay.slice(0, relay.indexOf("@")) as PeerId, r);
  }

  /** The relayed addresses of the reservations held now. */
  addresses(): string[] {
    return [...this.#reservations.values()].filter((r) => r.state === "reserved").map((r) =>
      r.address
    );
  }

  /** What the node report shows of relaying now (gauges). */
  report(): { held: number; serving?: { reservations: number; circuits: number } } {
    const s = this.relay?.stats;
    return {
      held: this.addresses().length,
      serving: s && { reservations: s.reservations, circuits: s.circuits },
    };
  }

  /** Counters for the node report. */
  counters(): Record<string, number> {
    const s = this.relay?.stats;
    if (!s) return {};
    return {
      "mosaik_relay_packets_total": s.packets,
      "mosaik_relay_bytes_total": s.bytes,
      "mosaik_relay_dropped_total": s.dropped,
      ...Object.fromEntries(
        Object.entries(s.refused).map(([k, v]) => [`mosaik_relay_refused_total{code=${k}}`, v]),
      ),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([...this.#reservations.values()].map((r) => r.close()));
  }
}
