// A consumer that finds no producer says so once through the `streams`
// logger, instead of waiting in silence.
import assert from "node:assert/strict";
import { configureLogging, type LogRecord } from "@mosaik/transport";
import { eventually, quietPeriod, within } from "@mosaik/transport/testing";
import { hasTags, stream } from "@mosaik/streams";
import { staticCluster } from "./streams_harness.ts";

/** Collects the `streams` warnings logged while `fn` runs. */
async function capturing(fn: (warnings: LogRecord[]) => Promise<void>): Promise<void> {
  const warnings: LogRecord[] = [];
  configureLogging({
    levels: "*:warn",
    sink: (r) => {
      if (r.subsystem === "streams" && r.level === "warn") warnings.push(r);
    },
  });
  try {
    await fn(warnings);
  } finally {
    configureLogging({ levels: undefined, sink: undefined });
  }
}

Deno.test("streams: a consumer of a stream nobody produces logs one warning naming the stream", async () => {
  await capturing(async (warnings) => {
    const c = await staticCluster(2);
    try {
      const [n0, n1] = c.nodes;
      const Lonely = stream<string>("tests.lonely", { schema: "v2" });
      const consumer = n0.streams.consume(Lonely, { noProducerWarning: 200 });
      await eventually(() => warnings.length > 0, { message: "the warning" });
      assert.match(warnings[0].message, /stream "tests\.lonely" \(schema "v2"\)/);
      assert.match(warnings[0].message, /no known peer produces it/);
      await quietPeriod(600);
      assert.equal(warnings.length, 1, "one warning, not one per period");
      const producer = n1.streams.produce(Lonely);
      await within(consumer.when.subscribed(), 5000);
      await producer.send("found");
      assert.equal(await within(consumer.recv(), 5000), "found");
      assert.equal(warnings.length, 1);
    } finally {
      await c.close();
    }
  });
});

Deno.test("streams: a consumer whose producers fail its require says so in its warning", async () => {
  await capturing(async (warnings) => {
    const c = await staticCluster(2);
    try {
      const [n0, n1] = c.nodes;
      const Data = stream<string>("tests.picky");
      n1.streams.produce(Data);
      n0.streams.consume(Data, { require: hasTags("oracle"), noProducerWarning: 200 });
      await eventually(() => warnings.length > 0, { message: "the warning" });
      assert.match(warnings[0].message, /1 peer\(s\) produce it but none passes/);
    } finally {
      await c.close();
    }
  });
});

Deno.test("streams: a consumer with a producer logs no warning", async () => {
  await capturing(async (warnings) => {
    const c = await staticCluster(2);
    try {
      const [n0, n1] = c.nodes;
      const Data = stream<string>("tests.served");
      n1.streams.produce(Data);
      const consumer = n0.streams.consume(Data, { noProducerWarning: 300 });
      await within(consumer.when.subscribed(), 5000);
      await quietPeriod(600);
      assert.deepEqual(warnings, []);
    } finally {
      await c.close();
    }
  });
});
