/**
 * The consumer's receive queue (private): datums from every subscription in
 * arrival order, handed to `recv` callers in order. With a capacity, the
 * subscriptions wait for {@linkcode Inbox.room} before reading more, so a
 * slow application pushes back through QUIC flow control.
 *
 * @module
 */
import { ClosedError } from "@mosaik/transport";

interface Taker<T> {
  resolve(value: T | undefined): void;
  reject(reason: unknown): void;
}

/** A FIFO of received datums with waiting takers and an optional capacity. */
export class Inbox<T> {
  readonly #capacity: number;
  #items: T[] = [];
  #head = 0;
  readonly #takers: Taker<T>[] = [];
  #space: (() => void)[] = [];
  #closed = false;

  /** A queue of at most `capacity` datums (`Infinity`: never pushes back). */
  constructor(capacity = Infinity) {
    this.#capacity = capacity;
  }

  /** Datums received and not yet taken. */
  get queued(): number {
    return this.#items.length - this.#head;
  }

  /** Hands datums to waiting takers first, queues the rest. */
  push(values: readonly T[]): void {
    let i = 0;
    while (i < values.length && this.#takers.length > 0) this.#takers.shift()!.resolve(values[i++]);
    for (; i < values.length; i++) this.#items.push(values[i]);
  }

  /** The next datum; `undefined` once closed and drained; rejects with the signal's reason on abort. */
  recv(signal?: AbortSignal): Promise<T | undefined> {
    if (this.queued > 0) return Promise.resolve(this.#take());
    if (this.#closed) return Promise.resolve(undefined);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#takers.indexOf(taker);
        if (i >= 0) this.#takers.splice(i, 1);
        reject(signal!.reason);
      };
      const taker: Taker<T> = {
        resolve: (v) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(v);
        },
        reject,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#takers.push(taker);
    });
  }

  /** The next datum if one is queued, else `undefined`; throws {@linkcode ClosedError} once closed and drained. */
  tryRecv(): T | undefined {
    if (this.queued > 0) return this.#take();
    if (this.#closed) throw new ClosedError("the consumer is closed");
    return undefined;
  }

  /**
   * Resolves once the queue has room (or `signal` aborts); `undefined` when
   * it has room now, so the common case costs no promise.
   */
  room(signal: AbortSignal): Promise<void> | undefined {
    if (this.queued < this.#capacity || signal.aborted || this.#closed) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#space.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Ends waiting: takers get `undefined`, queued datums can still be taken. */
  close(): void {
    this.#closed = true;
    for (const t of this.#takers.splice(0)) t.resolve(undefined);
    for (const r of this.#space.splice(0)) r();
  }

  #take(): T {
    const v = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#space.length > 0 && this.queued < this.#capacity) {
      for (const r of this.#space.splice(0)) r();
    }
    return v;
  }
}
