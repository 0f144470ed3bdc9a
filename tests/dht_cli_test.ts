import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { networkId, SecretKey, toHex } from "@mosaik/transport";
import { DhtNode, Rendezvous } from "@mosaik/discovery/dht";
import { cb, startSwarm } from "./dht_swarm.ts";
import { bundledCli, runBundled } from "./_bundle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const SOURCES = [
  "run",
  "--allow-net=127.0.0.1",
  new URL("../network/cli.ts", import.meta.url).pathname,
];

async function cli(bootstrap: string, ...args: string[]) {
  return await dht(SOURCES, bootstrap, ...args);
}

/** Runs `mosaik dht` started by `program` (deno arguments) against `bootstrap`; its JSON output. */
async function dht(program: string[], bootstrap: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...program,
      "dht",
      "--hostname",
      "127.0.0.1",
      "--bootstrap",
      bootstrap,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({ name: "dht cli: lookup, put and get against a local swarm", ...opts }, async () => {
  const swarm = await startSwarm(20);
  const boot = swarm.addresses.slice(0, 2).join(",");
  try {
    const lookup = await cli(boot, "lookup", toHex(crypto.getRandomValues(new Uint8Array(20))));
    assert.equal(lookup.closest.length, 8);

    const put = await cli(boot, "put", "hello cli");
    assert.ok(put.stored >= 3);
    const got = await cli(boot, "get", put.target);
    assert.deepEqual(got, { v: "hello cli" });
    // bittorrent-dht reads what the CLI stored.
    const bt = await cb<{ v: Buffer }>((done) =>
      swarm.nodes[7].get(put.target, { cache: false }, done)
    );
    assert.equal(Buffer.from(bt.v).toString(), "hello cli");

    const secret = "cli-test-seed";
    const mput = await cli(
      boot,
      "put",
      "--secret",
      secret,
      "--seq",
      "5",
      "--salt",
      "s",
      "mutable cli",
    );
    assert.ok(mput.stored >= 3);
    const mget = await cli(
      boot,
      "get",
      "--key",
      toHex(SecretKey.from(secret).publicKey),
      "--salt",
      "s",
    );
    assert.equal(mget.seq, 5);
    assert.equal(mget.v, "mutable cli");

    // A peer's rendezvous record, published by a node, resolved by key.
    const node = await DhtNode.create({
      hostname: "127.0.0.1",
      bootstrap: swarm.addresses.slice(0, 2),
    });
    try {
      await node.bootstrap();
      const key = SecretKey.generate();
      const rv = new Rendezvous(node, networkId("cli-net"), key);
      rv.setAddresses(["127.0.0.1:4433"]);
      await rv.publish();
      const record = await cli(boot, "resolve", "cli-net", key.peerId);
      assert.equal(record.peerId, key.peerId);
      assert.deepEqual(record.addresses, ["127.0.0.1:4433"]);
    } finally {
      await node.close();
    }
  } finally {
    await swarm.close();
  }
});

Deno.test({
  name: "dht cli: the bundled CLI (deno task build, its npm dependencies inside) stores and reads",
  ...opts,
}, async () => {
  const [dir, swarm] = await Promise.all([bundledCli(), startSwarm(12)]);
  const boot = swarm.addresses.slice(0, 2).join(",");
  try {
    const bundled = runBundled(dir, "127.0.0.1");
    const put = await dht(bundled, boot, "put", "hello bundle");
    assert.ok(put.stored >= 3);
    assert.deepEqual(await dht(bundled, boot, "get", put.target), { v: "hello bundle" });
    const bt = await cb<{ v: Buffer }>((done) =>
      swarm.nodes[5].get(put.target, { cache: false }, done)
    );
    assert.equal(Buffer.from(bt.v).toString(), "hello bundle");
  } finally {
    await swarm.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dht cli: an unknown flag prints the usage and exits with 2, without a stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      new URL("../network/cli.ts", import.meta.url).pathname,
      "dht",
      "--bogus",
      "lookup",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2);
  assert.match(stderr, /usage: mosaik dht/);
  assert.doesNotMatch(stderr, /\n\s+at /);
});
