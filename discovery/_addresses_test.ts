import assert from "node:assert/strict";
import { advertisedAddresses, specifyHost } from "./_addresses.ts";

const nic = (address: string, family: "IPv4" | "IPv6" = "IPv4") =>
  ({ address, family }) as Deno.NetworkInterfaceInfo;
const HOST = [
  nic("127.0.0.1"),
  nic("::1", "IPv6"),
  nic("fd00::2", "IPv6"),
  nic("192.0.2.2"),
  nic("fe80::fc:ff:fe00:1", "IPv6"),
  nic("169.254.3.4"),
];

Deno.test("addresses: a specific host is advertised as is", () => {
  assert.deepEqual(advertisedAddresses("127.0.0.1:4433"), ["127.0.0.1:4433"]);
  assert.deepEqual(advertisedAddresses("[::1]:4433"), ["[::1]:4433"]);
});

Deno.test("addresses: every interface but loopback and link-local, IPv4 first", () => {
  assert.deepEqual(advertisedAddresses("0.0.0.0:4433", () => HOST), ["192.0.2.2:4433"]);
  assert.deepEqual(advertisedAddresses("[::]:4433", () => HOST), [
    "192.0.2.2:4433",
    "[fd00::2]:4433",
  ]);
});

Deno.test("addresses: loopback only when there is nothing else, or without permission", () => {
  const lonely = () => [nic("127.0.0.1"), nic("::1", "IPv6"), nic("fe80::1", "IPv6")];
  assert.deepEqual(advertisedAddresses("0.0.0.0:4433", lonely), ["127.0.0.1:4433"]);
  assert.deepEqual(advertisedAddresses("[::]:4433", lonely), ["[::1]:4433"]);
  const denied = () => {
    throw new Deno.errors.NotCapable("networkInterfaces");
  };
  assert.deepEqual(advertisedAddresses("[::]:4433", denied), ["[::1]:4433"]);
});

Deno.test("addresses: the real interfaces give unique addresses of the bound port", () => {
  const all = advertisedAddresses("[::]:4433");
  assert.ok(all.length > 0);
  assert.equal(new Set(all).size, all.length);
  for (const a of all) assert.match(a, /:4433$/);
});

Deno.test("addresses: an unspecified address takes the host it was reached at", () => {
  assert.equal(specifyHost("0.0.0.0:4433", "192.0.2.7"), "192.0.2.7:4433");
  assert.equal(specifyHost("[::]:4433", "2001:db8::7"), "[2001:db8::7]:4433");
  assert.equal(specifyHost("10.0.0.1:4433", "192.0.2.7"), "10.0.0.1:4433");
});
