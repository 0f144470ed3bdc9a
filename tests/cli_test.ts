// The `mosaik` CLI as a user runs it: `deno task mosaik ...` in subprocesses.
import assert from "node:assert/strict";
import { Network } from "@mosaik/network";
import { deadline } from "@mosaik/transport";
import { bundledCli, runBundled } from "./_bundle.ts";

const root = new URL("..", import.meta.url).pathname;
const TIME_FACTOR = Number(Deno.env.get("TIME_FACTOR") ?? 1);
const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;

function mosaik(...args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "mosaik", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  });
}

/** The bundled CLI in `dir` (see `_bundle.ts`). */
function bundled(dir: string) {
  return (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [...runBundled(dir, "127.0.0.1,[::1],localhost"), ...args],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    });
}

/** Starts a beacon and reads its header up to "ready"; returns its address lines. */
async function startBeacon(network: string, keyFile: string, run = mosaik) {
  const child = run(
    "beacon",
    ...["--network", network, "--listen", "127.0.0.1:0", "--key", keyFile],
    ...["--no-mdns", "--no-dht", "--diagnostics", "127.0.0.1:0"],
  ).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await deadline(lines.read(), 30_000 * TIME_FACTOR);
    if (done) throw new Error(`beacon ended: ${text}`);
    text += value;
  }
  const address = /address\s+(\S+)/.exec(text)![1];
  const page = /page\s+(\S+)/.exec(text)![1];
  const rest = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return text;
      text += value;
    }
  })();
  return { child, address, page, output: rest };
}

async function stop(beacon: Awaited<ReturnType<typeof startBeacon>>) {
  beacon.child.kill("SIGTERM");
  const [status, output] = await Promise.all([beacon.child.status, beacon.output]);
  await beacon.child.stderr.cancel();
  return { status, output };
}

Deno.test("mosaik beacon: two networks bootstrapped from its address meet", async () => {
  const dir = await Deno.makeTempDir();
  const network = `beacon-${crypto.randomUUID()}`;
  try {
    const beacon = await startBeacon(network, `${dir}/beacon.key`);
    const a = await Network.create(network, { ...local, bootstrap: [beacon.address] });
    const b = await Network.create(network, { ...local, bootstrap: [beacon.address] });
    try {
      await deadline(
        Promise.all([a, b].map((n) => n.discovery.when.peers({ minimum: 2 }))),
        30_000 * TIME_FACTOR,
      );
      assert.ok(a.discovery.catalog.get(b.local.id), "a knows b through the beacon");
      const inspected = await mosaik("inspect", beacon.page).output();
      const table = new TextDecoder().decode(inspected.stdout);
      assert.equal(inspected.code, 0, new TextDecoder().decode(inspected.stderr));
      assert.match(table, /^PEERS \(2\)$/m);
      assert.match(table, new RegExp(`^${a.local.id.slice(0, 10)} +127\\.0\\.0\\.1:`, "m"));
    } finally {
      await a.close();
      await b.close();
    }
    const { status, output } = await stop(beacon);
    assert.equal(status.code, 0, output);
    assert.match(output, /SIGTERM: leaving\nclosed\n$/);

    // The key file keeps the identity across restarts.
    const again = await startBeacon(network, `${dir}/beacon.key`);
    assert.equal(again.address.split("@")[0], beacon.address.split("@")[0]);
    assert.equal((await stop(again)).status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mosaik: a wrong command line prints the usage and exits 2, no stack trace", async () => {
  for (
    const args of [["beacon", "--network", "x", "--bogus"], ["nosuch"], ["dht", "lookup", "zz"], [
      "inspect",
    ]]
  ) {
    const out = await mosaik(...args).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, /usage: mosaik/);
    assert.doesNotMatch(stderr, /^\s+at /m);
  }
});

Deno.test("deno task build: the one-file CLI runs a beacon outside the repository", async () => {
  const dir = await bundledCli();
  const network = `bundle-${crypto.randomUUID()}`;
  try {
    const beacon = await startBeacon(network, `${dir}/beacon.key`, bundled(dir));
    const a = await Network.create(network, { ...local, bootstrap: [beacon.address] });
    const b = await Network.create(network, { ...local, bootstrap: [beacon.address] });
    try {
      await deadline(
        Promise.all([a, b].map((n) => n.discovery.when.peers({ minimum: 2 }))),
        30_000 * TIME_FACTOR,
      );
      assert.ok(a.discovery.catalog.get(b.local.id), "a knows b through the bundled beacon");
    } finally {
      await a.close();
      await b.close();
    }
    const { status, output } = await stop(beacon);
    assert.equal(status.code, 0, output);
    assert.match(output, /closed\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
