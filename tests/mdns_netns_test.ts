import assert from "node:assert/strict";
import { delay } from "@mosaik/transport";
import { within } from "@mosaik/transport/testing";

const isRoot = (() => {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
})();
const hasIp = (() => {
  try {
    return new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();
const ignore = !isRoot || !hasIp;
if (ignore) {
  console.warn("mdns_netns_test: skipped: needs root and iproute2 to create network namespaces");
}

// The children run inside namespaces that have no route to the npm registry:
// what they import is fetched into Deno's cache here first (a fresh clone has
// never seen multicast-dns, which only these children use).
const LOCK = `--lock=${new URL("./deno.lock", import.meta.url).pathname}`;
if (!ignore) {
  const scripts = ["./mdns_node.ts", "./mdns_query.ts", "./mdns_change.ts", "./mdns_spoof.ts"];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      LOCK,
      ...scripts.map((s) => new URL(s, import.meta.url).pathname),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`caching ${scripts}: ${new TextDecoder().decode(out.stderr)}`);
}

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A private LAN: a hub namespace with a bridge and `n` host namespaces, each
 * with one veth on 198.19.<k>.<i+1>/24 (the benchmarking range), lo up and a
 * multicast route. Nothing touches the root namespace's interfaces.
 */
async function lan(n: number) {
  const tag = Math.floor(Math.random() * 0xfffff).toString(16);
  const subnet = `198.19.${Math.floor(Math.random() * 250)}`;
  const hub = `mz${tag}h`;
  const hosts = Array.from(
    { length: n },
    (_, i) => ({ ns: `mz${tag}n${i}`, ip: `${subnet}.${i + 1}` }),
  );
  await ip("netns", "add", hub);
  try {
    await ip("-n", hub, "link", "add", "br0", "type", "bridge");
    await ip("-n", hub, "link", "set", "br0", "up");
    for (const [i, h] of hosts.entries()) {
      await ip("netns", "add", h.ns);
      await ip(
        "link",
        "add",
        "eth0",
        "netns",
        h.ns,
        "type",
        "veth",
        "peer",
        "name",
        `p${i}`,
        "netns",
        hub,
      );
      await ip("-n", hub, "link", "set", `p${i}`, "master", "br0", "up");
      await ip("-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0");
      await ip("-n", h.ns, "link", "set", "eth0", "up", "multicast", "on");
      await ip("-n", h.ns, "link", "set", "lo", "up");
      await ip("-n", h.ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  async function cleanup() {
    for (const ns of [...hosts.map((h) => h.ns), hub]) {
      await ip("netns", "del", ns).catch(() => {});
    }
  }
  return { hosts, cleanup };
}

/** Runs a Deno script inside a namespace; yields its JSON output lines. */
function spawn(ns: string, script: string, args: string[], allowNet: string) {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns,
      Deno.execPath(),
      "run",
      LOCK,
      "--cached-only",
      "--unstable-net",
      `--allow-net=${allowNet}`,
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      new URL(script, import.meta.url).pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          lines.push(JSON.parse(line));
        } catch { /* not ours */ }
      }
    }
  })();
  const stdin = child.stdin.getWriter();
  return {
    lines,
    send: (text: string) => stdin.write(new TextEncoder().encode(text)),
    async stop() {
      await stdin.close().catch(() => {});
      await child.status;
      await reading;
    },
  };
}

async function until<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  return await within(
    (async () => {
      for (;;) {
        const v = fn();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
    ms,
    what,
  );
}

Deno.test({
  name:
    "mdns: nodes in three namespaces meet; a multicast-dns querier sees them and their goodbyes",
  ignore,
}, async () => {
  const net = await lan(4);
  const mdnsNet = "0.0.0.0:5353,224.0.0.251:5353";
  const hostIps = net.hosts.slice(0, 3).map((h) => h.ip).join(",");
  const nodes = net.hosts.slice(0, 3).map((h) =>
    spawn(h.ns, "./mdns_node.ts", ["lan-test", h.ip, "2"], `${mdnsNet},${hostIps}`)
  );
  const q = net.hosts[3];
  const querier = spawn(q.ns, "./mdns_query.ts", [q.ip], `${mdnsNet},${q.ip}`);
  try {
    const selves = await Promise.all(
      nodes.map((n) =>
        until(() => n.lines.find((l) => l.self)?.self as string, 20_000, "node met two others")
      ),
    );
    for (const [i, n] of nodes.entries()) {
      const met = n.lines.find((l) => l.met)!.met as string[];
      assert.deepEqual(met.sort(), selves.filter((_, j) => j !== i).sort());
    }
    // The npm multicast-dns querier sees all three services with their TXT.
    await until(
      () => {
        const seen = new Set(
          querier.lines.filter((l) => (l.ttl as number) > 0).map((l) => l.instance),
        );
        return seen.size >= 3 ? true : undefined;
      },
      10_000,
      "querier saw 3 instances",
    );
    const txt = querier.lines.find((l) => l.ttl)!.txt as string[];
    assert.ok(
      txt.some((t) => t.startsWith("net=")) && txt.some((t) => t.startsWith("addr=198.19.")),
    );
    // Closing sends goodbyes (TTL 0).
    await Promise.all(nodes.map((n) => n.stop()));
    await until(
      () => {
        const bye = new Set(querier.lines.filter((l) => l.ttl === 0).map((l) => l.instance));
        return bye.size >= 3 ? true : undefined;
      },
      10_000,
      "querier saw 3 goodbyes",
    );
  } finally {
    await Promise.all([...nodes, querier].map((n) => n.stop()));
    await net.cleanup();
  }
});

Deno.test({ name: "mdns: a node re-announces when its addresses change", ignore }, async () => {
  const net = await lan(2);
  const [a, q] = net.hosts;
  const mdnsNet = "0.0.0.0:5353,224.0.0.251:5353";
  const node = spawn(a.ns, "./mdns_change.ts", ["change-test", a.ip], mdnsNet);
  const querier = spawn(q.ns, "./mdns_query.ts", [q.ip], `${mdnsNet},${q.ip}`);
  const seen = (addr: string) =>
    querier.lines.some((l) =>
      (l.ttl as number) > 0 && (l.txt as string[]).includes(`addr=${addr}`)
    ) || undefined;
  try {
    await until(() => seen(`${a.ip}:1000`), 10_000, "querier saw the first address");
    await node.send("change\n");
    await until(() => seen(`${a.ip}:2000`), 10_000, "querier saw the new address");
  } finally {
    await Promise.all([node.stop(), querier.stop()]);
    await net.cleanup();
  }
});

Deno.test({
  name: "mdns: spoofed announcements of 1000 PeerIds at one port are not reflected as a flood",
  ignore,
}, async () => {
  const net = await lan(2);
  const [v, a] = net.hosts;
  const mdnsNet = "0.0.0.0:5353,224.0.0.251:5353";
  // The victim may dial anything on the LAN (that is what a node does).
  const victim = spawn(
    v.ns,
    "./mdns_node.ts",
    ["spoof-test", v.ip, "0"],
    `${mdnsNet},${v.ip},${a.ip}`,
  );
  const attacker = spawn(
    a.ns,
    "./mdns_spoof.ts",
    ["spoof-test", a.ip, "1000"],
    `${mdnsNet},${a.ip}`,
  );
  try {
    await until(() => victim.lines.find((l) => l.started), 20_000, "victim started");
    await until(() => attacker.lines.find((l) => l.sent), 20_000, "attacker announced");
    const since = attacker.lines.length;
    // Six seconds of the victim's reaction, as the attacker measures it.
    await delay(6_000);
    const last = attacker.lines.slice(since).at(-1) as { packets: number; bytes: number };
    // Before offers were bounded: every PeerId dialed at once, ~7 Initials
    // each (7,000 packets, 8.4 MB). Now a burst of 16 and 2 per second, so
    // at most ~28 dials in these 6 s.
    assert.ok(
      last.packets <= 28 * 8,
      `${last.packets} packets (${last.bytes} bytes) reached the port`,
    );
  } finally {
    await Promise.all([victim.stop(), attacker.stop()]);
    await net.cleanup();
  }
});
