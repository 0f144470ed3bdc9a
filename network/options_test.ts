import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { Network, type NetworkOptions } from "./network.ts";

/** Network.create with options the type system would refuse. */
async function rejects(options: unknown, message: RegExp, network: unknown = "app") {
  await assert.rejects(
    Network.create(network as string, options as NetworkOptions),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /^Cannot create network: /);
      assert.match(e.message, message);
      return true;
    },
  );
}

Deno.test("unknown option names are rejected with the closest known name", async () => {
  await rejects(
    { mdsn: false },
    /^Cannot create network: unknown option 'mdsn' \(did you mean 'mdns'\?\)$/,
  );
  await rejects({ bootstap: [] }, /unknown option 'bootstap' \(did you mean 'bootstrap'\?\)/);
  await rejects({ colour: "red" }, /unknown option 'colour'; known options: listen, secretKey,/);
  await rejects({ dht: { bootsrap: [] } }, /'dht.bootsrap' \(did you mean 'dht.bootstrap'\?\)/);
  await rejects(
    { discovery: { syncIntervall: 5 } },
    /'discovery.syncIntervall' \(did you mean 'discovery.syncInterval'\?\)/,
  );
  await rejects(
    { limits: { maxConnection: 5 } },
    /'limits.maxConnection' \(did you mean 'limits.maxConnections'\?\)/,
  );
});

Deno.test("bad values say the expected form", async () => {
  await rejects({ listen: "localhost" }, /option 'listen' must be "host:port" .*got "localhost"/);
  await rejects({ listen: "1.2.3.4:70000" }, /'listen' must be "host:port"/);
  await rejects(
    { bootstrap: ["127.0.0.1:4433"] },
    /option 'bootstrap\[0\]' must be "<peerId>@host:port" .*got "127.0.0.1:4433"/,
  );
  await rejects({ bootstrap: "abc@1.2.3.4:5" }, /'bootstrap' must be an array of/);
  await rejects({ mdns: "no" }, /option 'mdns' must be true or false, got "no"/);
  await rejects({ dht: { bootstrap: ["router"] } }, /'dht.bootstrap\[0\]' must be "host:port"/);
  await rejects({ maxFrameSize: -1 }, /'maxFrameSize' must be a positive integer, got -1/);
  await rejects({ limits: { headerTimeout: 0 } }, /'limits.headerTimeout' must be a positive/);
  await rejects({ location: { lat: 100, lon: 0 } }, /'location' must be \{ lat: -90..90/);
  await rejects({}, /the network must be a name or a NetworkId, got ""/, "");
});

Deno.test("a runtime without --unstable-net gets a hint, not a TypeError", async () => {
  const quic = Object.getOwnPropertyDescriptor(Deno, "QuicEndpoint")!;
  Object.defineProperty(Deno, "QuicEndpoint", { value: undefined, configurable: true });
  try {
    await rejects({}, /run with --unstable-net, or add "unstable": \["net"\] to your deno.json/);
  } finally {
    Object.defineProperty(Deno, "QuicEndpoint", quic);
  }
});
