// An endpoint's open connections by peer (a direct one preferred), and the
// sweep that closes those that carried no channel for a while: keep-alives
// would otherwise hold every connection a node ever made, up to its limit.
import type { Connection } from "./connection.ts";
import type { PeerId } from "./ids.ts";
import { CloseCode, type CloseInfo } from "./vocabulary.ts";

export class ConnectionTable {
  #byPeer = new Map<PeerId, Set<Connection>>();
  #sweep: ReturnType<typeof setInterval> | undefined;

  /** With `idleMs` > 0, connections idle that long are closed with `CloseCode.Idle`. */
  constructor(idleMs: number) {
    if (idleMs <= 0) return;
    const sweep = setInterval(() => this.#closeIdle(idleMs), Math.max(100, idleMs / 4));
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
  }

  /** The open connection to `peer`, if any: a direct one before a relayed one. */
  get(peer: PeerId): Connection | undefined {
    const open = [...this.#byPeer.get(peer) ?? []].filter((c) => !c.isClosed);
    return open.find((c) => c.path === "direct") ?? open[0];
  }

  /** Every connection to `peer`, open or closing. */
  of(peer: PeerId): Iterable<Connection> {
    return this.#byPeer.get(peer) ?? [];
  }

  /** Peers with a connection. */
  peers(): PeerId[] {
    return [...this.#byPeer.keys()];
  }

  /** Every connection. */
  all(): Connection[] {
    return [...this.#byPeer.values()].flatMap((set) => [...set]);
  }

  /** Channels open over all connections. */
  channels(): number {
    let n = 0;
    for (const set of this.#byPeer.values()) for (const c of set) n += c.channelCount;
    return n;
  }

  /**
   * Adds `connection`; resolves once it closed, with whether it was the
   * peer's last one.
   */
  async add(connection: Connection): Promise<{ info: CloseInfo; last: boolean }> {
    const peer = connection.peerId;
    let set = this.#byPeer.get(peer);
    if (!set) this.#byPeer.set(peer, set = new Set());
    set.add(connection);
    const info = await connection.closed;
    set.delete(connection);
    const last = set.size === 0 && this.#byPeer.get(peer) === set;
    if (last) this.#byPeer.delete(peer);
    return { info, last };
  }

  /** Stops the sweep. */
  stop(): void {
    clearInterval(this.#sweep);
  }

  #closeIdle(ms: number): void {
    const now = Date.now();
    for (const set of this.#byPeer.values()) {
      for (const c of set) if (!c.isClosed && c.idleFor(ms, now)) c.close(CloseCode.Idle, "idle");
    }
  }
}
