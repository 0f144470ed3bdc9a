// Copies of encoded datums cut from shared blocks. V8 pays more for a small
// ArrayBuffer than for encoding a small datum (0.2-0.9 M small buffers a
// second on this machine, against 18 M views; docs/performance.md), so a
// producer that copies its datums here makes one buffer per block instead of
// one per datum. A block lives until the last datum cut from it is sent:
// datums leave the queues in order, so that is about one block beyond the
// bytes queued.

/**
 * Codecs whose `encode` is transport's `encode`: a producer encodes their
 * datums with `encodeView` and copies them into its slab instead.
 */
export const VIEW_ENCODERS: WeakSet<object> = new WeakSet();

/** Bytes per block. */
export const SLAB_BLOCK = 16_384;
/** Datums larger than this get a buffer of their own. */
export const SLAB_MAX_COPY = 2_048;

/** A bump allocator of short-lived byte copies (its first block comes with the first copy). */
export class Slab {
  #block = new Uint8Array(0);
  #at = SLAB_BLOCK;

  /** A copy of `bytes` that `bytes` may change or vanish after. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > SLAB_MAX_COPY) return bytes.slice();
    if (this.#at + n > SLAB_BLOCK) {
      this.#block = new Uint8Array(SLAB_BLOCK);
      this.#at = 0;
    }
    const out = this.#block.subarray(this.#at, this.#at + n);
    out.set(bytes);
    this.#at += n;
    return out;
  }
}
