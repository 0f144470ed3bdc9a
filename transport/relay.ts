/**
 * Relays, for peers that cannot reach each other directly (a node behind a
 * NAT that drops unsolicited packets). A node that serves {@linkcode Relay}
 * forwards opaque QUIC packets between two of its peers: the unreachable
 * node keeps a {@linkcode RelayReservation} (a channel to the relay), and a
 * peer dials it at the address `relay:<relayPeerId>@host:port` that its
 * entry carries. Each end bridges the relay channel to its own QUIC endpoint
 * through a UDP socket on its host, so the connection between the two is the
 * same PeerId-pinned QUIC as a direct one: the relay can neither read nor
 * forge anything. Limits on the relay: reservations, circuits and bytes per
 * second per circuit (excess packets are dropped, as a congested link would);
 * refusals close the channel with a `Relay*` close code. Anchors: iroh's
 * relays (encrypted QUIC packets keyed by node id), libp2p circuit relay v2
 * (reservations and limits).
 *
 * @module
 */
import { parsePeerAddress } from "./address.ts";
import { deadline, delay } from "./async.ts";
import { type Channel, ChannelClosedError } from "./channel.ts";
import type { Endpoint } from "./endpoint.ts";
import { ClosedError, ConnectError, DecodeError } from "./errors.ts";
import { parsePeerId, type PeerId } from "./ids.ts";
import { logger } from "./log.ts";
import { CloseCode } from "./vocabulary.ts";
import { type Bridge, bridge } from "./_relay_bridge.ts";

/** Protocol name of relay channels. */
export const RELAY_PROTOCOL = "/mosaik/relay/2";
const PREFIX = "relay:";
const log = logger("relay");

/** Whether `address` is a relayed address, `relay:<relayPeerId>@host:port`. */
export function isRelayAddress(address: string): boolean {
  return address.startsWith(PREFIX);
}

/** The relayed address through the relay at `relay` (`"<peerId>@host:port"`). */
export function relayAddress(relay: string): string {
  parsePeerAddress(relay);
  return PREFIX + relay;
}

/** The relay of a relayed address; throws a `DecodeError` when malformed. */
export function parseRelayAddress(address: string): { peerId: PeerId; address: string } {
  if (!isRelayAddress(address)) throw new DecodeError(`not a relay address: ${address}`);
  return parsePeerAddress(address.slice(PREFIX.length));
}

/** Limits of a {@linkcode Relay}. */
export interface RelayLimits {
  /** Reservations held at once. Default 64. */
  maxReservations: number;
  /** Circuits open at once. Default 128. */
  maxCircuits: number;
  /** Bytes per second forwarded per circuit, both directions together. Default 16 MiB. */
  bytesPerSecond: number;
  /** Milliseconds the target has to take a circuit. Default 5 000. */
  acceptTimeout: number;
}

/** The default {@linkcode RelayLimits}. */
export const RELAY_LIMITS: RelayLimits = {
  maxReservations: 64,
  maxCircuits: 128,
  bytesPerSecond: 16 << 20,
  acceptTimeout: 5_000,
};

/** Counters of a {@linkcode Relay}. */
export interface RelayStats {
  /** Reservations held now. */
  reservations: number;
  /** Circuits open now. */
  circuits: number;
  /** Relay frames forwarded (each carries one or more QUIC packets). */
  packets: number;
  /** Bytes forwarded. */
  bytes: number;
  /** Relay frames dropped over a circuit's byte rate. */
  dropped: number;
  /** Requests refused, by close-code name. */
  refused: Record<string, number>;
}

type Pending = { from: PeerId; take: (channel: Channel) => void };

/**
 * Serves relaying on an endpoint until closed.
 *
 * @example
 * ```ts ignore
 * const relay = Relay.serve(endpoint);
 * // a node behind a NAT: new RelayReservation(its endpoint, `${endpoint.address}`)
 * ```
 */
export class Relay {
  /** Counters. */
  readonly stats: RelayStats = {
    reservations: 0,
    circuits: 0,
    packets: 0,
    bytes: 0,
    dropped: 0,
    refused: {},
  };
  #limits: RelayLimits;
  #reservations = new Map<PeerId, Channel>();
  #pending = new Map<number, Pending>();
  #next = 0;

  private constructor(limits: RelayLimits) {
    this.#limits = limits;
  }

  /** Registers the relay protocol on `endpoint`. */
  static serve(endpoint: Endpoint, limits: Partial<RelayLimits> = {}): Relay {
    const relay = new Relay({ ...RELAY_LIMITS, ...limits });
    // the opener speaks first: reserve, connect or accept
    endpoint.handle(RELAY_PROTOCOL, (ch) => relay.#serve(ch), { openerSpeaksFirst: true });
    return relay;
  }

  async #serve(ch: Channel): Promise<void> {
    const request = await deadline(ch.recv(), this.#limits.acceptTimeout);
    const [kind, arg] = Array.isArray(request) ? request : [];
    if (kind === "reserve") return await this.#reserve(ch);
    if (kind === "connect" && typeof arg === "string") return await this.#connect(ch, arg);
    if (kind === "accept" && typeof arg === "number") return this.#accept(ch, arg);
    throw new DecodeError("bad relay request");
  }

  async #refuse(ch: Channel, code: number, reason: string): Promise<void> {
    const name = Object.entries(CloseCode).find(([, c]) => c === code)?.[0] ?? String(code);
    this.stats.refused[name] = (this.stats.refused[name] ?? 0) + 1;
    await ch.close(code, reason);
  }

  async #reserve(ch: Channel): Promise<void> {
    const peer = ch.peerId;
    const old = this.#reservations.get(peer);
    if (!old && this.#reservations.size >= this.#limits.maxReservations) {
      return await this.#refuse(ch, CloseCode.RelayLimit, "too many reservations");
    }
    this.#reservations.set(peer, ch);
    this.stats.reservations = this.#reservations.size;
    old?.close(CloseCode.Success, "replaced").catch(() => {});
    try {
      await ch.send(["ok"]);
      while (await ch.recv() !== undefined) { /* held until the holder leaves */ }
    } finally {
      if (this.#reservations.get(peer) === ch) this.#reservations.delete(peer);
      this.stats.reservations = this.#reservations.size;
      await ch.close().catch(() => {}); // its holder left: give the stream back
    }
  }

  async #connect(ch: Channel, target: string): Promise<void> {
    const holder = this.#reservations.get(target as PeerId);
    if (!holder) return await this.#refuse(ch, CloseCode.RelayNoReservation, "no reservation");
    if (this.stats.circuits + this.#pending.size >= this.#limits.maxCircuits) {
      return await this.#refuse(ch, CloseCode.RelayLimit, "too many circuits");
    }
    const id = ++this.#next;
    const taken = new Promise<Channel>((take) => this.#pending.set(id, { from: ch.peerId, take }));
    let other: Channel;
    try {
      await holder.send(["incoming", id, ch.peerId]);
      other = await deadline(taken, this.#limits.acceptTimeout);
    } catch {
      return await this.#refuse(ch, CloseCode.RelayTimeout, "the target did not answer");
    } finally {
      this.#pending.delete(id);
    }
    await Promise.all([ch.send(["ok"]), other.send(["ok"])]);
    this.stats.circuits++;
    const budget = new Budget(this.#limits.bytesPerSecond);
    try {
      await Promise.race([this.#pipe(ch, other, budget), this.#pipe(other, ch, budget)]);
    } finally {
      this.stats.circuits--;
      await Promise.all([ch.close(), other.close()]);
    }
  }

  #accept(ch: Channel, id: number): Promise<void> {
    const pending = this.#pending.get(id);
    if (!pending) return this.#refuse(ch, CloseCode.RelayTimeout, "no such circuit");
    this.#pending.delete(id);
    pending.take(ch); // the connect side pipes and closes it
    return Promise.resolve();
  }

  async #pipe(from: Channel, to: Channel, budget: Budget): Promise<void> {
    for (;;) {
      const packet = await from.recvBytes().catch(() => undefined);
      if (packet === undefined) return;
      if (!budget.take(packet.length)) {
        this.stats.dropped++;
        continue;
      }
      this.stats.packets++;
      this.stats.bytes += packet.length;
      await to.sendBytes(packet);
    }
  }
}

/** A token bucket of bytes refilled at `rate` per second, holding at most one second's worth. */
class Budget {
  #tokens: number;
  #at = performance.now();
  constructor(readonly rate: number) {
    this.#tokens = rate;
  }
  take(n: number): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.rate, this.#tokens + (now - this.#at) / 1000 * this.rate);
    this.#at = now;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}

/** Opens a circuit to `target` through the relay of `address` and bridges it to `endpoint`. */
export async function dialRelayed(
  endpoint: Endpoint,
  target: PeerId,
  address: string,
  timeout: number,
): Promise<Bridge> {
  const relay = parseRelayAddress(address);
  if (relay.peerId === target) throw new ConnectError("a node cannot relay to itself");
  const ch = await endpoint.open(relay.peerId, [relay.address], RELAY_PROTOCOL);
  try {
    await ch.send(["connect", target]);
    const reply = await deadline(ch.recv(), timeout);
    if (!Array.isArray(reply) || reply[0] !== "ok") throw new DecodeError("bad relay reply");
  } catch (e) {
    await ch.close(CloseCode.Cancelled).catch(() => {});
    const code = e instanceof ChannelClosedError ? e.code : undefined;
    throw new ConnectError(`relay ${relay.peerId} refused: ${(e as Error).message}`, code, {
      cause: e,
    });
  }
  return bridge(ch, endpoint.hostPort);
}

/** State of a {@linkcode RelayReservation}. */
export type ReservationState = "reserving" | "reserved" | "closed";

/**
 * Keeps a reservation with one relay (`"<peerId>@host:port"`): reserves,
 * takes every circuit the relay offers (bridging it to the endpoint), and
 * reserves again with backoff (1 s doubling to 30 s) when the relay goes
 * away, until closed.
 */
export class RelayReservation {
  /** The relayed address peers dial, `relay:<relayPeerId>@host:port`. */
  readonly address: string;
  #endpoint: Endpoint;
  #relay: { peerId: PeerId; address: string };
  #state: ReservationState = "reserving";
  #channel: Channel | undefined;
  #bridges = new Set<Bridge>();
  #maxCircuits: number;
  #onChange: () => void;
  #abort = new AbortController();
  #loop: Promise<void>;

  /** Starts reserving at `relay`; `onChange` runs when the state changes. */
  constructor(
    endpoint: Endpoint,
    relay: string,
    options: { maxCircuits?: number; onChange?: () => void } = {},
  ) {
    this.#endpoint = endpoint;
    this.#relay = parsePeerAddress(relay);
    parsePeerId(this.#relay.peerId);
    this.address = relayAddress(relay);
    this.#maxCircuits = options.maxCircuits ?? 64;
    this.#onChange = options.onChange ?? (() => {});
    this.#loop = this.#run();
  }

  /** Whether the relay holds our reservation now. */
  get state(): ReservationState {
    return this.#state;
  }

  #set(state: ReservationState): void {
    if (this.#state === state || this.#state === "closed") return;
    this.#state = state;
    this.#onChange();
  }

  async #run(): Promise<void> {
    let backoff = 1_000;
    while (!this.#abort.signal.aborted) {
      try {
        const ch = this.#channel = await this.#endpoint.open(
          this.#relay.peerId,
          [this.#relay.address],
          RELAY_PROTOCOL,
        );
        await ch.send(["reserve"]);
        const ok = await deadline(ch.recv(), 5_000);
        if (!Array.isArray(ok) || ok[0] !== "ok") throw new DecodeError("bad relay reply");
        this.#set("reserved");
        backoff = 1_000;
        for (;;) {
          const offer = await ch.recv();
          if (offer === undefined) break;
          const [kind, id] = Array.isArray(offer) ? offer : [];
          if (kind === "incoming" && typeof id === "number") this.#take(id);
        }
      } catch (e) {
        if (!this.#abort.signal.aborted) {
          log.debug(`reservation at ${this.#relay.peerId} failed`, e);
        }
      }
      this.#set("reserving");
      if (this.#abort.signal.aborted) return;
      await delay(backoff, { signal: this.#abort.signal }).catch(() => {});
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  async #take(id: number): Promise<void> {
    if (this.#bridges.size >= this.#maxCircuits) return;
    try {
      const ch = await this.#endpoint.open(
        this.#relay.peerId,
        [this.#relay.address],
        RELAY_PROTOCOL,
      );
      await ch.send(["accept", id]);
      const ok = await deadline(ch.recv(), 5_000);
      if (!Array.isArray(ok) || ok[0] !== "ok") throw new DecodeError("bad relay reply");
      if (this.#abort.signal.aborted) return void ch.close();
      const b = bridge(ch, this.#endpoint.hostPort);
      this.#bridges.add(b);
      b.done.finally(() => this.#bridges.delete(b));
    } catch (e) {
      if (!(e instanceof ClosedError)) log.debug(`circuit ${id} failed`, e);
    }
  }

  /** Gives the reservation up and closes its circuits. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#abort.abort();
    this.#onChange();
    for (const b of this.#bridges) b.close();
    await this.#channel?.close().catch(() => {});
    await this.#loop;
  }
}
