import assert from "node:assert/strict";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import type { StateMachine } from "@mosaik/groups";
import { eventually } from "@mosaik/transport/testing";

const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;

class Register implements StateMachine<number, number, null, number, number> {
  readonly name = "register/v1";
  value = 0;
  apply(v: number): number {
    return this.value = v;
  }
  query(): number {
    return this.value;
  }
  snapshot(): number {
    return this.value;
  }
  restore(v: number): void {
    this.value = v;
  }
}

async function which(tool: string): Promise<string | undefined> {
  const out = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "piped" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
}

async function cluster() {
  const a = await Network.create(`diag-${crypto.randomUUID()}`, local);
  const b = await Network.create(a.networkId, {
    ...local,
    region: "eu-west-1",
    bootstrap: [a.local.address],
  });
  const [c, d, e] = await Promise.all(
    [0, 1, 2].map(() => Network.create(a.networkId, { ...local, bootstrap: [a.local.address] })),
  );
  const nodes = [a, b, c, d, e];
  // a's ticks go to b and c; d's quotes go to e, a flow a's page knows only from entries.
  const Ticks = stream<number>("ticks");
  const producer = a.streams.produce(Ticks);
  const consumers = [b, c].map((n) => n.streams.consume(Ticks));
  const quotes = d.streams.produce(stream<number>("quotes"));
  consumers.push(e.streams.consume(stream<number>("quotes")));
  await Promise.all(nodes.map((n) => n.discovery.when.peers({ minimum: 4 })));
  await producer.when.subscribed({ minimum: 2 });
  await quotes.when.subscribed({ minimum: 1 });
  await eventually(() => a.discovery.catalog.get(e.local.id)?.consumes?.length === 1, {
    message: "a learned that e consumes quotes",
  });
  for (let i = 0; i < 10; i++) await producer.send(i);
  await Promise.all(
    consumers.slice(0, 2).map(async (x) => {
      for (let i = 0; i < 10; i++) await x.recv();
    }),
  );
  const members = [a, b, c];
  const groups = members.map((n) =>
    n.groups.join({
      key: "diag",
      stateMachine: new Register(),
      config: { bootstrapExpect: members.length },
    })
  );
  await Promise.all(groups.map((g) => g.when.online()));
  await groups[0].execute(42);
  return {
    a,
    d,
    e,
    nodes,
    async [Symbol.asyncDispose]() {
      await Promise.all(consumers.map((x) => x.close()));
      for (const n of nodes) await n.close();
    },
  };
}

Deno.test("diagnostics: /metrics is valid Prometheus text and /api reports the node", async () => {
  await using c = await cluster();
  await using diag = c.a.diagnostics();
  const metrics = await (await fetch(`${diag.url}/metrics`)).text();
  assert.match(metrics, /^mosaik_peers\{network="[0-9a-f]{10}"\} 4$/m);
  assert.match(metrics, /^mosaik_group_commit_index\{.*group=.*\} [1-9]/m);
  assert.match(metrics, /^mosaik_group_incarnation_conflicts\{.*group=.*\} 0$/m);
  assert.match(metrics, /^mosaik_stream_subscriptions\{.*role="producer"\} 2$/m);
  assert.match(metrics, /^mosaik_discovery_messages_sent_total\{.*kind=/m);
  assert.match(metrics, /^mosaik_transport_in_use\{.*resource="connections"\} [1-9]/m);
  assert.match(metrics, /^mosaik_transport_limit\{.*resource="incomingChannels"\} 512$/m);
  assert.doesNotMatch(metrics, /^# HELP \S+ Counter\.$/m, "every counter says what it counts");
  const promtool = await which("promtool");
  if (promtool) {
    const check = new Deno.Command(promtool, {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = check.stdin.getWriter();
    await writer.write(new TextEncoder().encode(metrics));
    await writer.close();
    const out = await check.output();
    const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, report);
  } else {
    console.warn("promtool not installed (Debian package prometheus): skipped the lint");
  }
  const peers = await (await fetch(`${diag.url}/api/peers`)).json();
  assert.equal(peers.length, 4);
  assert.deepEqual(peers.map((p: { region?: string }) => p.region).sort(), [
    "eu-west-1",
    undefined,
    undefined,
    undefined,
  ]);
  const graph = await (await fetch(`${diag.url}/api/graph`)).json();
  assert.equal(graph.nodes.length, 5);
  type Edge = { from: string; to: string; kind: string; datums?: number };
  const live = graph.edges.filter((e: Edge) => e.kind === "live");
  assert.equal(live.length, 2);
  assert.ok(live.every((e: Edge) => e.from === c.a.local.id && e.datums === 10));
  assert.deepEqual(
    graph.edges.filter((e: Edge) => e.kind === "advertised").map((e: Edge) => [e.from, e.to]),
    [[c.d.local.id, c.e.local.id]],
    "the flow between two other nodes, from their entries",
  );
  const groups = await (await fetch(`${diag.url}/api/groups`)).json();
  assert.equal(groups[0].voters.length, 3);
});

Deno.test("diagnostics page draws the live data-flow graph in Chromium", async (t) => {
  if (!(await which("chromium"))) {
    console.warn("chromium not installed (Debian package chromium): skipped");
    return;
  }
  await using c = await cluster();
  await using diag = c.a.diagnostics();
  const shot = Deno.env.get("DIAGNOSTICS_SCREENSHOT") ?? "";
  await t.step("the page shows every node, the subscriptions and the leader", async () => {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./network_diagnostics_browser.ts", import.meta.url).pathname,
        `${diag.url}/`,
        "5",
        shot,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.ok(run.success, stderr);
    const seen = JSON.parse(new TextDecoder().decode(run.stdout));
    assert.deepEqual(new Set(seen.nodes), new Set(c.nodes.map((n) => n.local.id)));
    assert.equal(seen.edges.length, 3);
    assert.ok(
      seen.edges.some((e: string[]) =>
        e.join() === [c.d.local.id, c.e.local.id, "advertised"].join()
      ),
      "the page draws the flow between two other nodes",
    );
    assert.equal(seen.leaders, 1);
    assert.equal(seen.groups, 1);
  });
});

/** The status of a GET sent with a chosen Host header (fetch would set its own). */
async function statusFor(url: string, host: string): Promise<number> {
  const { hostname, port } = new URL(url);
  using conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode(
      `GET /api/node HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ),
  );
  const buf = new Uint8Array(256);
  const n = (await conn.read(buf)) ?? 0;
  return Number(new TextDecoder().decode(buf.subarray(0, n)).split(" ")[1]);
}

Deno.test("diagnostics refuse foreign Host headers (no DNS rebinding)", async () => {
  await using node = await Network.create(`diag-${crypto.randomUUID()}`, local);
  await using diag = node.diagnostics({ allowedHosts: ["mosaik.internal"] });
  const port = new URL(diag.url).port;
  assert.equal(await statusFor(diag.url, `127.0.0.1:${port}`), 200);
  assert.equal(await statusFor(diag.url, `localhost:${port}`), 200);
  assert.equal(await statusFor(diag.url, "mosaik.internal"), 200);
  assert.equal(await statusFor(diag.url, `attacker.example:${port}`), 421);
  assert.equal(await statusFor(diag.url, "attacker.example"), 421);
});
