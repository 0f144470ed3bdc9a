// A node's part in relaying: serving as a relay (`relay: true`, advertised
// by the RELAY_TAG tag) and holding reservations with the relays it was
// given (`relays`), whose relayed addresses its entry carries while reserved.
import { type Endpoint, Relay, RelayReservation, tag } from "@mosaik/transport";

/** The tag a relay advertises. */
export const RELAY_TAG = tag("mosaik/relay");

export class Relaying {
  /** The relay this node serves, if `relay: true`. */
  readonly relay: Relay | undefined;
  #reservations: RelayReservation[];

  constructor(
    endpoint: Endpoint,
    options: { relay?: boolean; relays?: string[] },
    onChange: () => void,
  ) {
    this.relay = options.relay ? Relay.serve(endpoint) : undefined;
    this.#reservations = (options.relays ?? []).map((r) =>
      new RelayReservation(endpoint, r, { onChange })
    );
  }

  /** Tags to advertise. */
  get tags() {
    return this.relay ? [RELAY_TAG] : [];
  }

  /** The relayed addresses of the reservations held now. */
  addresses(): string[] {
    return this.#reservations.filter((r) => r.state === "reserved").map((r) => r.address);
  }

  /** Counters for the node report. */
  counters(): Record<string, number> {
    const s = this.relay?.stats;
    const reserved = this.addresses().length;
    if (!s) return this.#reservations.length ? { "mosaik_relay_reservations_held": reserved } : {};
    return {
      "mosaik_relay_reservations_held": reserved,
      "mosaik_relay_reservations_served": s.reservations,
      "mosaik_relay_circuits": s.circuits,
      "mosaik_relay_packets_total": s.packets,
      "mosaik_relay_bytes_total": s.bytes,
      "mosaik_relay_dropped_total": s.dropped,
      ...Object.fromEntries(
        Object.entries(s.refused).map(([k, v]) => [`mosaik_relay_refused_total{code=${k}}`, v]),
      ),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#reservations.map((r) => r.close()));
  }
}
