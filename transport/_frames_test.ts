import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { DecodeError, FrameTooLargeError } from "./errors.ts";
import { FrameReader, FrameWriter } from "./_frames.ts";
import { frameBuffer } from "./_frame_buffers.ts";

function source(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

/** A byte stream (as QUIC streams are), so the reader reads into buffers it sizes. */
function byteSource(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  const queue = chunks.filter((c) => c.length > 0); // a byte stream carries no empty chunks
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) {
        controller.close();
        controller.byobRequest?.respond(0); // ends a pending BYOB read
      } else controller.enqueue(next.slice());
    },
  });
}

async function readAll(reader: FrameReader) {
  const out = [];
  for (let f = await reader.next(); f; f = await reader.next()) out.push(f);
  return out;
}

Deno.test("frames survive any chunking and coalescing", async () => {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream({ write: (c) => void chunks.push(c) }),
    1 << 20,
  );
  const payloads = Array.from({ length: 100 }, (_, i) => new Uint8Array(i * 37 % 3000).fill(i));
  for (const p of payloads) await writer.write(p);
  await writer.finish();
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, (at += c.length) - c.length);
  // re-split at random points
  const split: Uint8Array[] = [];
  for (let i = 0; i < all.length;) {
    const n = 1 + Math.floor(Math.random() * 500);
    split.push(all.slice(i, i + n));
    i += n;
  }
  for (const from of [source, byteSource]) {
    const frames = await readAll(new FrameReader(from(split), 1 << 20));
    assert.deepEqual(frames.map((f) => f.data), payloads);
  }
  // one chunk of everything: the byte reader takes it in reads of at most 64 KiB
  const whole = await readAll(new FrameReader(byteSource([all]), 1 << 20));
  assert.deepEqual(whole.map((f) => f.data), payloads);
});

Deno.test("small and transient payloads are copied when queued; large ones are not", async () => {
  const chunks: Uint8Array[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const writer = new FrameWriter(
    new WritableStream({
      write: async (c) => {
        chunks.push(c.slice());
        await held; // the first write stays in flight while the next frames queue
      },
    }),
    1 << 20,
  );
  const first = new Uint8Array(8).fill(1);
  const small = new Uint8Array(100).fill(2);
  const transient = new Uint8Array(5000).fill(3);
  const large = new Uint8Array(5000).fill(4);
  await writer.write(first);
  await writer.write(small);
  await writer.write(transient, false, true);
  await writer.write(large);
  small.fill(9);
  transient.fill(9);
  large.fill(5); // not copied: the caller must leave it alone until the flush
  release();
  await writer.finish();
  const frames = await readAll(new FrameReader(source(chunks), 1 << 20));
  assert.deepEqual(frames.map((f) => f.data), [
    new Uint8Array(8).fill(1),
    new Uint8Array(100).fill(2),
    new Uint8Array(5000).fill(3),
    new Uint8Array(5000).fill(5),
  ]);
});

Deno.test("frames given as parts arrive whole; a lone frame's large parts are written uncopied", async () => {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream({ write: (c) => void chunks.push(c) }),
    1 << 20,
  );
  const big = new Uint8Array(20_000).fill(7);
  const frames = [
    [new Uint8Array([1, 2]), big, new Uint8Array([3]), new Uint8Array(30_000).fill(9)],
    [new Uint8Array([4]), new Uint8Array(0), new Uint8Array([5, 6])],
    [big],
  ];
  await writer.write(frames[0]);
  await writer.drain();
  assert.ok(chunks.includes(big)); // the lone frame went out in parts, `big` as it is
  for (const f of frames.slice(1)) void writer.write(f); // queued together: joined
  await writer.finish();
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, (at += c.length) - c.length);
  const joined = frames.map((parts) => new Uint8Array(parts.flatMap((p) => [...p])));
  const got = await readAll(new FrameReader(byteSource([all]), 1 << 20));
  assert.deepEqual(got.map((f) => f.data), joined);
  await assert.rejects(
    () => new FrameWriter(new WritableStream(), 10).write([new Uint8Array(6), new Uint8Array(5)]),
    FrameTooLargeError,
  );
});

Deno.test("large frames from a byte stream are read into their own buffer, small ones around them intact", async () => {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream({ write: (c) => void chunks.push(c.slice()) }),
    4 << 20,
  );
  const payloads = [10, 300_000, 5, 70_000, 1 << 20, 3].map((n, i) =>
    Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 0xff)
  );
  for (const p of payloads) await writer.write(p);
  await writer.finish();
  const frames = await readAll(new FrameReader(byteSource(chunks), 4 << 20));
  assert.deepEqual(frames.map((f) => f.data), payloads);
  // cut short inside a large frame
  const cut = chunks.flatMap((c) => [...c]).slice(0, 200_000);
  await assert.rejects(
    readAll(new FrameReader(byteSource([Uint8Array.from(cut)]), 4 << 20)),
    DecodeError,
  );
});

Deno.test("a frameBuffer payload goes out in one write with its header, on every channel it is sent on", async () => {
  const payload = frameBuffer(30_000).fill(5);
  const writes: Uint8Array[][] = [[], []];
  for (const out of writes) {
    const writer = new FrameWriter(new WritableStream({ write: (c) => void out.push(c) }), 1 << 20);
    await writer.write(payload);
    await writer.finish();
    assert.equal(out.length, 1);
    assert.equal(out[0].buffer, payload.buffer); // not copied
    const frames = await readAll(new FrameReader(byteSource(out), 1 << 20));
    assert.deepEqual(frames.map((f) => f.data), [new Uint8Array(30_000).fill(5)]);
  }
});

Deno.test("frameBuffer payloads queued behind a write go out uncopied; other frames are joined", async () => {
  const out: Uint8Array[] = [];
  let release = () => {};
  const writer = new FrameWriter(
    new WritableStream({
      write: (c) => {
        out.push(c);
        return new Promise<void>((r) => release = r);
      },
    }),
    1 << 20,
  );
  const framed = [1, 2, 3].map((i) => frameBuffer(30_000).fill(i));
  const plain = [new Uint8Array(30_000).fill(4), new Uint8Array(10).fill(5)];
  const sent = [framed[0], framed[1], plain[0], plain[1], framed[2]];
  for (const payload of sent) await writer.write(payload);
  let done = false;
  const drained = writer.drain().then(() => done = true);
  while (!done) {
    release();
    await new Promise((r) => setTimeout(r, 0));
  }
  await drained;
  // the first at once; behind it framed[1] as it is, the plain frames joined,
  // framed[2] as it is
  assert.deepEqual(out.map((c) => c.buffer), [
    framed[0].buffer,
    framed[1].buffer,
    out[2].buffer,
    framed[2].buffer,
  ]);
  assert.equal(out[2].length, 30_004 + 14);
  const frames = await readAll(new FrameReader(byteSource(out), 1 << 20));
  assert.deepEqual(frames.map((f) => f.data), sent.map((p) => new Uint8Array(p)));
});

Deno.test("frames read with reuse share one buffer; the previous one reads as empty", async () => {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream({ write: (c) => void chunks.push(c.slice()) }),
    1 << 20,
  );
  const payloads = [40_000, 60_000, 20_000, 200_000, 30_000].map((n, i) =>
    new Uint8Array(n).fill(i + 1)
  );
  for (const p of payloads) await writer.write(p);
  await writer.finish();
  const reader = new FrameReader(byteSource(chunks), 1 << 20, () => () => {});
  const first = (await reader.next(undefined, true))!.data;
  assert.deepEqual(first, payloads[0]);
  const buffer = first.buffer;
  const second = (await reader.next(undefined, true))!.data;
  assert.deepEqual(second, payloads[1]);
  assert.equal(first.length, 0); // its memory now holds the second frame
  assert.equal(buffer.detached, true);
  assert.deepEqual((await reader.next(undefined, true))!.data, payloads[2]);
  const large = (await reader.next(undefined, true))!.data; // over the spare: a buffer of its own
  assert.deepEqual(large, payloads[3]);
  const kept = (await reader.next())!.data; // without reuse: its own buffer
  assert.deepEqual(kept, payloads[4]);
  assert.equal(await reader.next(undefined, true), undefined);
  assert.deepEqual(kept, payloads[4]);
});

Deno.test("truncated and oversized frames throw typed errors", async () => {
  await assert.rejects(
    readAll(new FrameReader(source([new Uint8Array([0, 0])]), 100)),
    DecodeError,
  );
  await assert.rejects(
    readAll(new FrameReader(source([new Uint8Array([0, 0, 0, 9, 1])]), 100)),
    DecodeError,
  );
  await assert.rejects(
    readAll(new FrameReader(source([new Uint8Array([0, 1, 0, 0])]), 100)),
    DecodeError,
  );
});

Deno.test("random byte streams only ever throw DecodeError", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
      async (chunks) => {
        for (const from of [source, byteSource]) {
          try {
            await readAll(new FrameReader(from(chunks), 4096));
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
          }
        }
      },
    ),
    { numRuns: 3000 },
  );
});
