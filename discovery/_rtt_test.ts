import assert from "node:assert/strict";
import type { PeerId } from "@mosaik/transport";
import { RttEstimator } from "./_rtt.ts";

Deno.test("rtt: RFC 6298 smoothing", () => {
  const r = new RttEstimator();
  const p = "p" as PeerId;
  assert.equal(r.srtt(p), undefined);
  r.record(p, 100);
  assert.deepEqual(r.get(p), { srtt: 100, rttvar: 50 });
  r.record(p, 20);
  assert.deepEqual(r.get(p), { srtt: 90, rttvar: 57.5 });
  r.record(p, NaN);
  r.record(p, -1);
  assert.equal(r.srtt(p), 90);
  r.forget(p);
  assert.equal(r.srtt(p), undefined);
});
