import assert from "node:assert/strict";
import { FrameWriter } from "./_frames.ts";
import { frameBuffer, releaseFrame } from "./_frame_buffers.ts";

/** A writer whose stream takes each chunk only when `take()` is called; `chunks` holds copies. */
function slowWriter() {
  const chunks: Uint8Array[] = [];
  const waiting: (() => void)[] = [];
  let asked = () => {};
  const writer = new FrameWriter(
    new WritableStream<Uint8Array>({
      write: (c) => {
        chunks.push(c.slice());
        asked();
        return new Promise<void>((r) => waiting.push(r));
      },
    }),
    1 << 22,
  );
  /** Lets the stream take the chunk it was given; resolves at the next write or when all is written. */
  const take = async () => {
    const next = new Promise<void>((r) => asked = r);
    waiting.shift()!();
    await Promise.race([next, writer.drain()]);
  };
  return { writer, chunks, take };
}

// Each test uses a size of its own: the spares are the process's.
Deno.test("a released frame is reused only after the writer gave its bytes to the stream", async () => {
  const frame = frameBuffer(100_000).fill(7);
  const { writer, chunks, take } = slowWriter();
  await writer.write(frame);
  releaseFrame(frame);
  const meanwhile = frameBuffer(100_000);
  assert.notEqual(meanwhile.buffer, frame.buffer);
  meanwhile.fill(9);
  await take();
  assert.deepEqual(chunks[0].subarray(4), new Uint8Array(100_000).fill(7));
  const later = frameBuffer(100_000);
  assert.equal(later.buffer, frame.buffer);
  assert.equal(later.length, 100_000);
});

Deno.test("a frame sent on two writers waits for both; a second release changes nothing", async () => {
  const frame = frameBuffer(200_000).fill(3);
  const a = slowWriter();
  const b = slowWriter();
  await a.writer.write(frame);
  await b.writer.write(frame);
  releaseFrame(frame);
  releaseFrame(frame);
  await a.take();
  assert.notEqual(frameBuffer(200_000).buffer, frame.buffer);
  await b.take();
  assert.equal(frameBuffer(200_000).buffer, frame.buffer);
});

Deno.test("a frame joined with others or sent with a close is held until written too", async () => {
  const frame = frameBuffer(300_000).fill(4);
  const { writer, chunks, take } = slowWriter();
  await writer.write(new Uint8Array(10)); // in flight: what follows queues
  await writer.write(new Uint8Array(20));
  await writer.write(frame, true);
  releaseFrame(frame);
  assert.notEqual(frameBuffer(300_000).buffer, frame.buffer);
  await take();
  await take();
  assert.deepEqual(chunks.at(-1)!.subarray(-300_000), new Uint8Array(300_000).fill(4));
  assert.equal(frameBuffer(300_000).buffer, frame.buffer);
});

Deno.test("a frame whose write failed, or that was never released, is not reused", async () => {
  const failed = frameBuffer(400_000);
  const writer = new FrameWriter(
    new WritableStream({ write: () => Promise.reject(new Error("gone")) }),
    1 << 22,
  );
  await writer.write(failed);
  await assert.rejects(writer.drain());
  releaseFrame(failed);
  assert.notEqual(frameBuffer(400_000).buffer, failed.buffer);
  const kept = frameBuffer(500_000);
  const ok = slowWriter();
  await ok.writer.write(kept);
  await ok.take();
  assert.notEqual(frameBuffer(500_000).buffer, kept.buffer);
});

Deno.test("small and huge frames get buffers of their own, never reused", () => {
  for (const size of [100, 2 << 20]) {
    const frame = frameBuffer(size);
    assert.equal(frame.buffer.byteLength, size + 4);
    releaseFrame(frame);
    assert.notEqual(frameBuffer(size).buffer, frame.buffer);
  }
});
