// The TDX validator's cache of accepted tickets: the last accepted ticket per
// key (peer and network) with the window its verdict holds, oldest evicted
// first once the cache holds more entries or more ticket bytes than allowed.

/** An accepted ticket: its bytes and when its verdict holds. */
export interface Accepted<B extends Uint8Array> {
  ticket: B;
  from: number;
  until: number;
}

/** See the file comment. */
export class AcceptedTickets<B extends Uint8Array> {
  readonly #entries = new Map<string, Accepted<B>>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Ticket bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): Accepted<B> | undefined {
    return this.#entries.get(key);
  }

  /** Sets `key` as the newest entry, then evicts the oldest while over a bound. */
  set(key: string, entry: Accepted<B>): void {
    this.#delete(key);
    this.#entries.set(key, entry);
    this.#bytes += entry.ticket.length;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) return;
      this.#delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#entries.delete(key);
    this.#bytes -= old.ticket.length;
  }
}
