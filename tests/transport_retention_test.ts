// What a connection keeps alive once its handshake and channels are done:
// counted in a heap snapshot of a child process (it needs --expose-gc), for
// few and for many connections.
import assert from "node:assert/strict";

const CHILD = new URL("./transport_retention_child.ts", import.meta.url).pathname;

async function live(connections: number): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      "--allow-sys",
      "--allow-env=TIME_FACTOR",
      CHILD,
      String(connections),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the retention child failed");
  const { connected, live } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(connected, true);
  return live;
}

Deno.test("transport: finished streams and the proof's frames are not kept by open connections", async () => {
  const [few, many] = [await live(2), await live(10)];
  // the two ends of the one channel the child keeps open, and nothing else
  const open = { QuicSendStream: 2, QuicReceiveStream: 2, FrameReader: 2, FrameWriter: 2 };
  const { buffers: fewBuffers, ...fewStreams } = few;
  const { buffers: manyBuffers, ...manyStreams } = many;
  assert.deepEqual(fewStreams, open);
  assert.deepEqual(manyStreams, open);
  // read buffers (a pending read holds 4 KiB) do not grow with the connections
  assert.deepEqual(manyBuffers, fewBuffers);
});
