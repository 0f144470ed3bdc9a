// Streams between two processes: a producer node in a child `deno` process,
// a consumer node here.
import assert from "node:assert/strict";
import { within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";

Deno.test("streams: a producer in another process delivers every datum in order", async () => {
  const name = crypto.randomUUID();
  await using node = await Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: false });
  const consumer = node.streams.consume(stream<number>("tests.process.numbers"));
  const count = 5000;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      "--allow-read",
      new URL("./streams_child.ts", import.meta.url).pathname,
      name,
      node.local.address,
      String(count),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    for (let i = 0; i < count; i++) assert.equal(await within(consumer.recv(), 20_000), i);
    assert.equal(consumer.stats.gaps, 0);
    assert.equal(consumer.producers().length, 1);
  } finally {
    await child.stdin.close();
    const out = new TextDecoder().decode((await child.output()).stdout).trim().split("\n");
    assert.equal(out.at(-1), "sent");
    await consumer.close();
  }
});
