// The victim of the adversary suite, in its own process so that its RSS and
// event loop are its own: a full Network node that produces a stream and is
// one of a 3-member group. Speaks JSON lines (tests/hosts/process.ts): prints
// { ready, address }, then answers every { id, op } with
// { id, maxLag, maxStall, rss, peakRss, memory, peakHeap, peakExternal, resources, banned,
// discovery }: since the last op "reset" (which restarts them), the latest a 10 ms timer
// fired (maxLag), the longest stall of its own making (maxStall: the lag, but no more than
// the CPU time the process used meanwhile), the largest RSS, V8 heap and external memory
// in bytes (memory: the latest Deno.memoryUsage()); the
// endpoint's resources(), the peers discovery banned and its catalog's
// size and refusals. (A test reading
// /proc/<pid>/status itself would need --allow-all.)
//   deno run tests/adversary/_victim.ts <network name> <group key> <stream name>
import process from "node:process";
import { configureLogging, delay } from "@mosaik/transport";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import { Counter } from "@mosaik/groups/testing";
import { LOCAL } from "../_harness.ts";

const [name, key, streamName] = Deno.args;
const TICK = 10;

const banned: string[] = [];
configureLogging({
  levels: { discovery: "info" },
  sink: (record) => {
    const ban = /^banned (\S+)/.exec(record.message);
    if (ban) banned.push(ban[1]);
    else if (record.level === "error") console.error(record.subsystem, record.message);
  },
});

// A late tick is a stall of this process only as far as it used the CPU
// meanwhile; the rest is the OS running others (a busy machine).
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
let maxLag = 0;
let maxStall = 0;
let memory = Deno.memoryUsage();
let rss = memory.rss;
let peakRss = rss;
let peakHeap = memory.heapTotal;
let peakExternal = memory.external;
let last = performance.now();
let lastCpu = cpuMs();
setInterval(() => {
  const now = performance.now();
  const cpu = cpuMs();
  const lag = now - last - TICK;
  maxLag = Math.max(maxLag, lag);
  maxStall = Math.max(maxStall, Math.min(lag, cpu - lastCpu));
  [last, lastCpu] = [now, cpu];
  memory = Deno.memoryUsage();
  rss = memory.rss; // VmRSS, from /proc/self/statm
  peakRss = Math.max(peakRss, rss);
  peakHeap = Math.max(peakHeap, memory.heapTotal);
  peakExternal = Math.max(peakExternal, memory.external);
}, TICK);

const node = await Network.create(name, LOCAL);
node.groups.join({ key, stateMachine: new Counter(), config: { bootstrapExpect: 3 } });
const producer = node.streams.produce(stream<number>(streamName));
(async () => {
  for (let i = 0;; i++) {
    await producer.send(i).catch(() => {});
    await delay(20);
  }
})();

const out = (line: object) => console.log(JSON.stringify(line));
out({ ready: true, address: node.local.address });
let buffered = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += chunk;
  let at;
  while ((at = buffered.indexOf("\n")) >= 0) {
    const { id, op } = JSON.parse(buffered.slice(0, at));
    buffered = buffered.slice(at + 1);
    if (op === "reset") {
      [maxLag, maxStall, peakRss] = [0, 0, rss];
      [peakHeap, peakExternal] = [memory.heapTotal, memory.external];
    }
    const { catalogFull, catalogEvicted } = node.discovery.stats;
    const discovery = { peers: node.discovery.catalog.size, catalogFull, catalogEvicted };
    out({
      id,
      maxLag,
      maxStall,
      rss,
      peakRss,
      memory,
      peakHeap,
      peakExternal,
      resources: node.endpoint.resources(),
      banned,
      discovery,
    });
  }
}
await node.close();
Deno.exit(0);
