import assert from "node:assert/strict";
import { delay } from "@mosaik/transport";
import { NoProducerWarning } from "./_no_producer.ts";
import { stream } from "./stream.ts";

const Prices = stream<unknown>("prices");

Deno.test("NoProducerWarning: once closed, no update re-arms it (a closing consumer leaves no timer)", async () => {
  let looks = 0;
  const warning = new NoProducerWarning(
    Prices,
    10,
    () => (looks++, { advertised: 1, eligible: 1 }),
  );
  warning.update(false);
  warning.close();
  // What closing a consumer with two connected producers reports, one untrack at a time.
  warning.update(true);
  warning.update(false);
  await delay(30);
  assert.equal(looks, 0);
});
