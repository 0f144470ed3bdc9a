// Connects <n> endpoints to one in this process and counts, from a heap
// snapshot after a full collection, the stream objects and buffers of 1 KiB
// or more still alive, for tests/transport_retention_test.ts.
// Usage: deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-sys --allow-env=TIME_FACTOR \
//   tests/transport_retention_child.ts <n>
import { Session } from "node:inspector";
import { type Connection, Endpoint, networkId } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";

const COUNTED = [
  "QuicSendStream",
  "QuicReceiveStream",
  "FrameReader",
  "FrameWriter",
];
const N = Number(Deno.args[0]);

/** How many objects of each counted class the heap holds, and how many buffers of 1 KiB or more. */
async function liveObjects(): Promise<Record<string, number>> {
  (globalThis as unknown as { gc: () => void }).gc();
  const session = new Session();
  session.connect();
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (m) => chunks.push(m.params.chunk));
  await new Promise<void>((resolve, reject) =>
    session.post("HeapProfiler.takeHeapSnapshot", {}, (e) => e ? reject(e) : resolve())
  );
  session.disconnect();
  const { snapshot, nodes, strings } = JSON.parse(chunks.join(""));
  const fields: string[] = snapshot.meta.node_fields;
  const types: string[] = snapshot.meta.node_types[0];
  const [type, name, size] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const counts = Object.fromEntries([...COUNTED, "buffers"].map((c) => [c, 0]));
  for (let i = 0; i < nodes.length; i += fields.length) {
    const n = strings[nodes[i + name]];
    if (types[nodes[i + type]] === "object" && COUNTED.includes(n)) counts[n]++;
    if (n === "system / JSArrayBufferData" && nodes[i + size] >= 1024) counts.buffers++;
  }
  return counts;
}

const net = networkId("retention");
const hub = await Endpoint.create({ networkId: net });
// Neither handler closes its channel: the remote's close frame ends the
// first, both sides' finish the second.
hub.handle("echo", async (channel) => {
  for await (const m of channel) await channel.send(m);
});
hub.handle("ask", async (channel) => {
  for await (const m of channel) await channel.send(m);
  await channel.finish();
});
const spokes = await Promise.all(
  Array.from({ length: N }, () => Endpoint.create({ networkId: net })),
);
const echo = async (connection: Connection) => {
  const channel = await connection.open("echo");
  await channel.send("ping");
  await channel.recv();
  await channel.close();
};
const ask = async (connection: Connection) => {
  const channel = await connection.open("ask");
  await channel.send("ping");
  await channel.finish();
  while (await channel.recv() !== undefined) { /* the answer, then the end */ }
};
// Half connect and open no channel. The other half open two channels before
// the acceptor's verdict (one on the proof's stream, one held until the
// proof checks out) and one after it.
await Promise.all(spokes.map(async (spoke, i) => {
  const connection = await spoke.connect(hub.peerId, [hub.hostPort]);
  if (i % 2 === 0) return await connection.accepted;
  await Promise.all([echo(connection), ask(connection)]);
  await echo(connection);
}));
// One channel stays open: its two ends must be counted, or the class names
// this counts no longer match Deno's.
const held = await spokes[0].open(hub.peerId, [hub.hostPort], "echo");
await held.send("ping");
await held.recv();
// The verdict's reads and the remote's closes settle on their own time:
// snapshots repeat until only the open channel's two ends are left, or time
// is up (the test then reports what is left).
let live: Record<string, number> = {};
const settled = async () => {
  live = await liveObjects();
  return COUNTED.every((c) => live[c] === 2);
};
await eventually(settled, { timeout: 5_000, interval: 50 }).catch(() => {});
const connected = spokes.every((s) => s.connection(hub.peerId) !== undefined);
console.log(JSON.stringify({ connected, live }));
Deno.exit(0);
