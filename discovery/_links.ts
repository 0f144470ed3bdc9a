/**
 * Outgoing gossip links: one channel per peer we send to, opened lazily,
 * with sends kept in order. A failed open or send reports the peer as failed.
 *
 * @module
 */
import type { Channel, Endpoint, PeerId } from "@mosaik/transport";

interface Link {
  channel: Promise<Channel>;
  tail: Promise<void>;
}

/** The set of outgoing channels of one protocol. */
export class Links {
  #links = new Map<PeerId, Link>();
  #endpoint: Endpoint;
  #protocol: string;
  #failed: (peer: PeerId) => void;

  /** Creates the link set. `failed` is called once per link that breaks. */
  constructor(endpoint: Endpoint, protocol: string, failed: (peer: PeerId) => void) {
    this.#endpoint = endpoint;
    this.#protocol = protocol;
    this.#failed = failed;
  }

  /** Whether a link to `peer` is open or opening. */
  has(peer: PeerId): boolean {
    return this.#links.has(peer);
  }

  /**
   * Sends `bytes` as one frame to `peer`, opening the link if needed;
   * settles once they were written (or the link failed).
   */
  send(peer: PeerId, addresses: readonly string[], bytes: Uint8Array): Promise<void> {
    let link = this.#links.get(peer);
    if (!link) {
      const channel = this.#endpoint.open(peer, addresses, this.#protocol);
      link = { channel, tail: channel.then(() => {}) };
      this.#links.set(peer, link);
    }
    const l = link;
    l.tail = l.tail.then(async () => {
      const ch = await l.channel;
      await ch.sendBytes(bytes);
    }).catch(() => this.#fail(peer, l));
    return l.tail;
  }

  #fail(peer: PeerId, link: Link): void {
    if (this.#links.get(peer) !== link) return;
    this.#links.delete(peer);
    link.channel.then((ch) => ch.close()).catch(() => {});
    this.#failed(peer);
  }

  /** Closes the link to `peer` after its pending sends. */
  release(peer: PeerId): void {
    const link = this.#links.get(peer);
    if (!link) return;
    this.#links.delete(peer);
    link.tail = link.tail.then(async () => (await link.channel).close()).catch(() => {});
  }

  /**
   * Flushes and closes every link. Before closing, each link sends `probe`
   * and waits up to `window` ms for the remote's reply, so that everything
   * sent before (a departure) has been read by the remote when this resolves.
   */
  async close(probe: Uint8Array, window: number): Promise<void> {
    const all = [...this.#links.values()];
    this.#links.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((r) => timer = setTimeout(r, window));
    await Promise.race([
      deadline,
      Promise.allSettled(all.map((l) =>
        l.tail.then(async () => {
          const ch = await l.channel;
          await ch.sendBytes(probe);
          await Promise.race([ch.recvBytes(), deadline]);
        })
      )),
    ]);
    clearTimeout(timer);
    // Links still opening (an unreachable peer) are closed when they resolve,
    // or fail when the endpoint closes.
    for (const l of all) l.channel.then((ch) => ch.close()).catch(() => {});
  }
}
