import assert from "node:assert/strict";
import { table } from "./_table.ts";

Deno.test("table pads columns and right-aligns numbers", () => {
  assert.equal(
    table(["peer", "rtt ms", "state"], [["a1b2", 3, "up"], ["c3", 120, "connecting"]]),
    [
      "peer  rtt ms  state",
      "----  ------  ----------",
      "a1b2       3  up",
      "c3       120  connecting",
    ].join("\n"),
  );
});

Deno.test("table with no rows is its header", () => {
  assert.equal(table(["a", "bb"], []), "a  bb\n-  --");
});
