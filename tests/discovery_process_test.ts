// Nodes in separate processes: a child process joins, leaves gracefully, and
// a killed child expires from the catalog.
import assert from "node:assert/strict";
import type { CatalogEvent } from "@mosaik/discovery";
import { eventually, timeFactor } from "@mosaik/transport/testing";
import { freshNetwork, startNode } from "./_harness.ts";

const tf = timeFactor();

function spawn(net: string, bootstrap: string, announceMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./discovery_node.ts", import.meta.url).pathname,
      net,
      bootstrap,
      String(announceMs),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  return {
    child,
    async address(): Promise<string> {
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("child exited early");
        text += value;
      }
      return text.trim();
    },
    async stop(signal?: Deno.Signal) {
      if (signal) child.kill(signal);
      else await child.stdin.close();
      await lines.cancel();
      return await child.status;
    },
  };
}

Deno.test("discovery: a node in another process joins, departs, and a killed one expires", async () => {
  const net = freshNetwork();
  const node = await startNode(net, {
    discovery: { purgeAfter: 1_500 * tf, announceInterval: 300 * tf },
  });
  const events: CatalogEvent[] = [];
  node.discovery.catalog.subscribe((e) => events.push(e));
  const graceful = spawn(net, node.endpoint.address, 300 * tf);
  const killed = spawn(net, node.endpoint.address, 300 * tf);
  try {
    const ga = await graceful.address();
    const ka = await killed.address();
    const gid = ga.split("@")[0];
    const kid = ka.split("@")[0];
    await eventually(() => node.discovery.catalog.size === 2, { timeout: 15_000 });
    assert.equal((await graceful.stop()).code, 0);
    await eventually(() => events.some((e) => e.type === "departed" && e.entry.peerId === gid));
    await killed.stop("SIGKILL");
    await eventually(
      () => events.some((e) => e.type === "expired" && e.entry.peerId === kid),
      { timeout: 10_000 },
    );
    assert.equal(node.discovery.catalog.size, 0);
  } finally {
    await graceful.stop().catch(() => {});
    await killed.stop("SIGKILL").catch(() => {});
    await node.close();
  }
});
