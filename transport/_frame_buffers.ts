// Buffers for outgoing frames with room for the frame header in front, and
// the reuse of those their owner gave back. A fresh 64 KiB buffer, filled and
// dropped, costs about 9 µs in V8 here (allocation, zeroing, freeing it
// later), against 1.5 µs for filling one again: a producer of small datums
// made one per batch frame (docs/performance.md, "Streams: 1 KiB datums").
//
// A buffer is lent out: its owner holds it from `frameBuffer` until
// `releaseFrame`, and every frame writer given it holds it from `write` until
// QUIC took its bytes. Only when the last hold ends does it go back to the
// spares. A hold nobody ends (a write that failed, a frame never released)
// only keeps the buffer from being reused; the collector frees it as before.

/** Buffers made by {@linkcode frameBuffer}: their first 4 bytes are the frame header's. */
const withHeadroom = new WeakSet<ArrayBuffer>();
/** Holds on lent buffers (owner and writers), by buffer. */
const holds = new WeakMap<ArrayBuffer, number>();
/** Lent buffers whose owner has not given them back yet. */
const owned = new WeakSet<ArrayBuffer>();
/** Buffers given back and free to lend again. */
const spares: ArrayBuffer[] = [];

/** Capacities are multiples of this, so that frames of about one size share buffers. */
const GRAIN = 4096;
/** Frames from this size to {@linkcode SPARE_MAX} get buffers that can be reused. */
const SPARE_MIN = 16 * 1024;
const SPARE_MAX = 1024 * 1024;
/** Bytes of spares kept at most (per process). */
const SPARES_BYTES = 4 * 1024 * 1024;
let sparesBytes = 0;

/**
 * A zeroed buffer for a frame payload of `size` bytes, with room for the
 * frame header in front of it: a channel sends it as one write with the
 * header, neither copied nor preceded by a write of its own. Give it back
 * with {@linkcode releaseFrame} once it will not be sent again, and a later
 * frame may reuse its memory (not zeroed then) instead of allocating.
 *
 * @example
 * ```ts
 * import { frameBuffer } from "@mosaik/transport";
 * const payload = frameBuffer(1024);
 * payload.set([1, 2, 3]); // then channel.sendBytes(payload)
 * ```
 */
export function frameBuffer(size: number): Uint8Array {
  const capacity = size + 4;
  if (capacity < SPARE_MIN || capacity > SPARE_MAX) {
    const buffer = new ArrayBuffer(capacity);
    withHeadroom.add(buffer);
    return new Uint8Array(buffer, 4, size);
  }
  const grains = Math.ceil(capacity / GRAIN) * GRAIN;
  const at = spares.findIndex((b) => b.byteLength === grains);
  let buffer: ArrayBuffer;
  if (at >= 0) {
    buffer = spares[at];
    spares[at] = spares[spares.length - 1];
    spares.pop();
    sparesBytes -= grains;
  } else {
    buffer = new ArrayBuffer(grains);
    withHeadroom.add(buffer);
  }
  holds.set(buffer, 1);
  owned.add(buffer);
  return new Uint8Array(buffer, 4, size);
}

/**
 * Gives a frame from {@linkcode frameBuffer} back: its owner will neither
 * read, change nor send it again. Its memory serves a later frame once every
 * channel it was sent on has handed it to QUIC. A second release, or one of
 * any other bytes, does nothing.
 *
 * @example
 * ```ts ignore
 * import { frameBuffer, releaseFrame } from "@mosaik/transport";
 * const frame = frameBuffer(60_000);
 * await channel.sendBytes(frame);
 * releaseFrame(frame); // the channel still holds it until QUIC took it
 * ```
 */
export function releaseFrame(frame: Uint8Array): void {
  const buffer = frame.buffer as ArrayBuffer;
  if (owned.delete(buffer)) drop(buffer);
}

/** Whether `buffer` came from {@linkcode frameBuffer}. */
export function hasHeadroom(buffer: ArrayBufferLike): boolean {
  return withHeadroom.has(buffer as ArrayBuffer);
}

/** Takes a writer's hold on `part`'s buffer when it is lent. */
export function hold(part: Uint8Array): void {
  const buffer = part.buffer as ArrayBuffer;
  const n = holds.get(buffer);
  if (n !== undefined) holds.set(buffer, n + 1);
}

/** Ends a writer's hold on `part`'s buffer (taken with {@linkcode hold}). */
export function unhold(part: Uint8Array): void {
  drop(part.buffer as ArrayBuffer);
}

/** Ends one hold on `buffer`; the last one makes it a spare. */
function drop(buffer: ArrayBuffer): void {
  const n = holds.get(buffer);
  if (n === undefined) return;
  if (n > 1) {
    holds.set(buffer, n - 1);
    return;
  }
  holds.delete(buffer);
  // a buffer a stream detached is gone; spares are bounded
  if (buffer.byteLength === 0 || sparesBytes + buffer.byteLength > SPARES_BYTES) return;
  spares.push(buffer);
  sparesBytes += buffer.byteLength;
}
