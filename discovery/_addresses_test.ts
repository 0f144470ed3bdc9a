import assert from "node:assert/strict";
import { advertisedAddresses, specifyHost } from "./_addresses.ts";

Deno.test("addresses: a specific host is advertised as is", () => {
  assert.deepEqual(advertisedAddresses("127.0.0.1:4433"), ["127.0.0.1:4433"]);
  assert.deepEqual(advertisedAddresses("[::1]:4433"), ["[::1]:4433"]);
});

Deno.test("addresses: an unspecified host becomes the interfaces' addresses, loopback last", () => {
  const v4 = advertisedAddresses("0.0.0.0:4433");
  assert.equal(v4.at(-1), "127.0.0.1:4433");
  for (const a of v4) assert.match(a, /^\d+\.\d+\.\d+\.\d+:4433$/);
  assert.equal(new Set(v4).size, v4.length);
  const v6 = advertisedAddresses("[::]:4433");
  assert.equal(v6.at(-1), "[::1]:4433");
});

Deno.test("addresses: an unspecified address takes the host it was reached at", () => {
  assert.equal(specifyHost("0.0.0.0:4433", "192.0.2.7"), "192.0.2.7:4433");
  assert.equal(specifyHost("[::]:4433", "2001:db8::7"), "[2001:db8::7]:4433");
  assert.equal(specifyHost("10.0.0.1:4433", "192.0.2.7"), "10.0.0.1:4433");
});
