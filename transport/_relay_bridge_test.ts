import assert from "node:assert/strict";
import { DecodeError } from "./errors.ts";
import { unbatch } from "./_relay_bridge.ts";

Deno.test("relay bridge: a frame splits into its length-prefixed packets", () => {
  const frame = new Uint8Array([0, 2, 7, 8, 0, 0, 1, 0, ...new Uint8Array(256).fill(9)]);
  const packets = unbatch(frame);
  assert.deepEqual(packets.map((p) => p.length), [2, 0, 256]);
  assert.deepEqual([...packets[0]], [7, 8]);
  assert.ok(packets[2].every((b) => b === 9));
});

Deno.test("relay bridge: a length that overruns the frame is a DecodeError", () => {
  assert.throws(() => unbatch(new Uint8Array([0, 5, 1, 2])), DecodeError);
  assert.throws(() => unbatch(new Uint8Array([0])), DecodeError);
});
