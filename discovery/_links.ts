/**
 * Gossip links: per peer, the one channel our messages to it go on, with
 * sends kept in order. A failed open or send reports the peer as failed.
 *
 * A neighbour pair shares one bidirectional channel: a peer that opened a
 * channel to us gets our messages back on it ({@linkcode Links.adopt}) while
 * we have no link of our own, and a channel we open is read like one opened
 * to us (`read`). Each side lets go of its direction alone
 * ({@linkcode Links.release} finishes it): the other keeps sending until it
 * lets go too, as over two channels, one per direction, which is what a pair
 * held before (two streams, each with its reader, on both ends).
 *
 * @module
 */
import type { Channel, Endpoint, PeerId } from "@mosaik/transport";

interface Link {
  channel: Promise<Channel>;
  /** The channel, once open. */
  open?: Channel;
  tail: Promise<void>;
}

/** What links need from their node. */
export interface LinkHooks {
  /** Reads a channel we opened, as channels opened to us are read. */
  read(ch: Channel): void;
  /** The link to `peer` broke (called once per link). */
  failed(peer: PeerId): void;
}

/** The gossip links of one node. */
export class Links {
  #links = new Map<PeerId, Link>();
  #endpoint: Endpoint;
  #protocol: string;
  #hooks: LinkHooks;
  /** Departure probes waiting for their answer, by channel. */
  #probes = new Map<Channel, () => void>();

  /** Creates the link set. */
  constructor(endpoint: Endpoint, protocol: string, hooks: LinkHooks) {
    this.#endpoint = endpoint;
    this.#protocol = protocol;
    this.#hooks = hooks;
  }

  /**
   * Our messages to `ch`'s peer go on `ch`, a channel it opened to us, when
   * we have no link to it, or one on a channel it let go of, or when both
   * opened one at the same moment and its id is the smaller (both ends keep
   * that one). Messages queued on the link before go first; then our side
   * of its channel is finished.
   */
  adopt(ch: Channel): void {
    const peer = ch.peerId;
    const link = this.#links.get(peer);
    if (link && !link.open?.closed && !(peer < this.#endpoint.peerId)) return;
    const tail = link ? link.tail : Promise.resolve();
    this.#links.set(peer, { channel: Promise.resolve(ch), open: ch, tail });
    if (link) link.tail.then(async () => (await link.channel).finish()).catch(() => {});
  }

  /** Whether our messages to `ch`'s peer go on `ch`. */
  uses(ch: Channel): boolean {
    return this.#links.get(ch.peerId)?.open === ch;
  }

  /**
   * Sends `bytes` as one frame to `peer`, opening the link if needed;
   * settles once they were written (or the link failed).
   */
  send(peer: PeerId, addresses: readonly string[], bytes: Uint8Array): Promise<void> {
    let link = this.#links.get(peer);
    if (!link) {
      const channel = this.#endpoint.open(peer, addresses, this.#protocol);
      const opened: Link = link = { channel, tail: channel.then(() => {}) };
      channel.then((ch) => {
        opened.open = ch;
        this.#hooks.read(ch);
      }, () => {});
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
    this.#hooks.failed(peer);
  }

  /** Lets go of the link to `peer` after its pending sends: finishes our direction of its channel. */
  release(peer: PeerId): void {
    const link = this.#links.get(peer);
    if (!link) return;
    this.#links.delete(peer);
    link.tail = link.tail.then(async () => (await link.channel).finish()).catch(() => {});
  }

  /** The remote answered the departure probe sent on `ch`. */
  probed(ch: Channel): void {
    this.#probes.get(ch)?.();
  }

  /**
   * Flushes and closes every link. Before closing, each link sends `probe`
   * and waits up to `window` ms for the remote's answer ({@linkcode Links.probed}),
   * so that everything sent before (a departure) has been read by the remote
   * when this resolves.
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
          const answered = new Promise<void>((r) => this.#probes.set(ch, r));
          await ch.sendBytes(probe);
          await answered;
        })
      )),
    ]);
    clearTimeout(timer);
    this.#probes.clear();
    // Links still opening (an unreachable peer) are closed when they resolve,
    // or fail when the endpoint closes.
    for (const l of all) l.channel.then((ch) => ch.close()).catch(() => {});
  }
}
