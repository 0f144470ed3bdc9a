import assert from "node:assert/strict";
import { Hono } from "hono";
import { hostCheck } from "./_host_check.ts";

function app(hostname: string, allowed: string[] = []) {
  const a = new Hono();
  a.use(hostCheck(() => ({ hostname, port: 9464 }), allowed));
  a.get("/", (c) => c.text("ok"));
  return async (host: string) => (await a.request("/", { headers: { host } })).status;
}

const lan = Deno.networkInterfaces().find((i) =>
  i.family === "IPv4" && !i.address.startsWith("127.")
)?.address;

Deno.test("host check: loopback binds answer loopback names only", async () => {
  const status = app("127.0.0.1");
  for (const host of ["127.0.0.1:9464", "localhost:9464", "[::1]:9464", "LOCALHOST"]) {
    assert.equal(await status(host), 200, host);
  }
  for (const host of ["attacker.example:9464", "localhost:80.attacker.example", "", "0.0.0.0"]) {
    assert.equal(await status(host), 421, host);
  }
  if (lan) assert.equal(await status(`${lan}:9464`), 421);
});

Deno.test("host check: a specific address, IPv6 and the allow-list", async () => {
  const v6 = app("::1", ["metrics.internal"]);
  assert.equal(await v6("[::1]:9464"), 200);
  assert.equal(await v6("localhost:9464"), 200);
  assert.equal(await v6("metrics.internal"), 200);
  assert.equal(await v6("metrics.internal:9464"), 200);
  assert.equal(await v6("metrics.internal.attacker.example"), 421);
  const specific = app("192.0.2.7");
  assert.equal(await specific("192.0.2.7:9464"), 200);
  assert.equal(await specific("localhost:9464"), 421);
});

Deno.test("host check: all-interface binds answer this machine's addresses, nothing else", async () => {
  for (const wildcard of ["0.0.0.0", "::"]) {
    const status = app(wildcard);
    assert.equal(await status("127.0.0.1:9464"), 200);
    assert.equal(await status("localhost:9464"), 200);
    if (lan) assert.equal(await status(`${lan}:9464`), 200, lan);
    assert.equal(await status("198.51.100.1:9464"), 421);
    assert.equal(await status("rebind.attacker.example:9464"), 421);
  }
});
