import assert from "node:assert/strict";
import { ASK_INTERVAL, ObservedAddresses, OwnAddresses } from "./_observed.ts";

Deno.test("observed: an address becomes a candidate once two observer hosts agree", () => {
  const o = new ObservedAddresses();
  assert.ok(o.record("198.18.0.10:4000", "198.18.0.2:6000"));
  assert.ok(!o.record("198.18.0.10:4001", "198.18.0.2:6000"), "same host, same report");
  assert.deepEqual(o.candidates(), [], "one host is not enough");
  o.record("198.18.0.11:4000", "198.18.0.2:6000");
  assert.deepEqual(o.candidates(), ["198.18.0.2:6000"]);
});

Deno.test("observed: local-only and malformed reports are ignored", () => {
  const o = new ObservedAddresses({ agree: 1 });
  for (
    const bad of ["127.0.0.1:5", "[::1]:5", "[fe80::1]:5", "169.254.1.1:5", "x:5", "1.2.3.4:0"]
  ) {
    assert.ok(!o.record("198.18.0.10:1", bad), bad);
  }
  assert.ok(!o.record("nonsense", "198.18.0.2:6000"));
  assert.deepEqual(o.candidates(), []);
});

Deno.test("observed: observers are bounded, reports expire, the most agreed come first", () => {
  const o = new ObservedAddresses({ agree: 1, maxObservers: 3, ttl: 1000, maxCandidates: 1 });
  o.record("10.0.0.1:1", "192.0.2.1:1", 0);
  o.record("10.0.0.2:1", "192.0.2.2:1", 0);
  o.record("10.0.0.3:1", "192.0.2.2:1", 0);
  assert.deepEqual(o.candidates(0), ["192.0.2.2:1"]);
  o.record("10.0.0.4:1", "192.0.2.1:1", 500); // forgets 10.0.0.1
  o.record("10.0.0.5:1", "192.0.2.1:1", 500); // forgets 10.0.0.2
  assert.deepEqual(o.candidates(500), ["192.0.2.1:1"]);
  assert.deepEqual(o.candidates(1200), ["192.0.2.1:1"], "only the old report of 10.0.0.3 expired");
  assert.deepEqual(o.candidates(5000), []);
});

Deno.test("observed: a report from one observer that is none of ours means a NAT in between", () => {
  const o = new ObservedAddresses();
  assert.ok(!o.translated(["198.19.1.2:5000"]));
  o.record("198.18.0.10:1", "198.19.1.2:5000");
  assert.ok(!o.translated(["198.19.1.2:5000"]), "seen at our own address");
  o.record("198.18.0.11:1", "198.18.0.12:40000");
  assert.ok(o.translated(["198.19.1.2:5000"]));
});

Deno.test("observed: each observer host is asked once per interval; fixed addresses ask none", () => {
  const own = new OwnAddresses("198.18.0.2:6000", {}, () => {});
  assert.ok(own.shouldAsk("198.18.0.10:4000", 0));
  assert.ok(!own.shouldAsk("198.18.0.10:4001", 1), "another port of the same host");
  assert.ok(own.shouldAsk("198.18.0.11:4000", 1), "another host");
  assert.ok(own.shouldAsk("198.18.0.10:4000", ASK_INTERVAL), "asked again after the interval");
  assert.ok(!own.shouldAsk("garbage", 0));
  const fixed = new OwnAddresses("198.18.0.2:6000", { fixed: ["198.18.0.2:6000"] }, () => {});
  assert.ok(!fixed.shouldAsk("198.18.0.10:4000", 0));
});
