// One memory scenario of bench/memory.ts, in a fresh process so that nothing
// else lives in its heap (the packages are loaded, as in any node). Prints one JSON line: bytes of RSS before and after
// the scenario's step, and how many things the step made.
//
// Usage: _memory_child.ts <scenario>
import { Endpoint, networkId, SecretKey } from "@mosaik/transport";
import { certificateFor, pinnedTls } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import { LOCAL } from "../tests/_harness.ts";

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** RSS after a collection and a moment of quiet (timers, handshakes settle). */
async function rss(): Promise<number> {
  await new Promise((r) => setTimeout(r, 500));
  gc();
  await new Promise((r) => setTimeout(r, 100));
  return Deno.memoryUsage().rss;
}

async function network(name: string, seed?: Network): Promise<Network> {
  return await Network.create(name, {
    ...LOCAL,
    bootstrap: seed ? [seed.local.address] : [],
  });
}

const N = 20;
/** Nodes already running when the extra ones of `nodes` join. */
const RUNNING = 5;

const scenarios: Record<string, () => Promise<{ before: number; after: number; count: number }>> = {
  // One Network, converged with nobody, idle.
  async idle() {
    await network(crypto.randomUUID());
    await new Promise((r) => setTimeout(r, 2500));
    return { before: 0, after: await rss(), count: 1 };
  },
  // Extra in-process nodes joining a running network of RUNNING nodes, until
  // all know each other. The running nodes have connected and gossiped, so
  // the runtime's code for that is paged in already: a cost a process pays
  // once, not per node (the first 20 nodes of a process paged in 9-10 MiB of
  // the binary's file-backed pages, 20 more nodes then 0.1-0.4 MiB).
  async nodes() {
    const name = crypto.randomUUID();
    const seed = await network(name);
    const running = [
      seed,
      ...await Promise.all(
        Array.from({ length: RUNNING - 1 }, () => network(name, seed)),
      ),
    ];
    await Promise.all(running.map((n) => n.discovery.when.peers({ minimum: RUNNING - 1 })));
    const before = await rss();
    const rest = await Promise.all(Array.from({ length: N }, () => network(name, seed)));
    await Promise.all(
      [...running, ...rest].map((n) => n.discovery.when.peers({ minimum: RUNNING + N - 1 })),
    );
    return { before, after: await rss(), count: N };
  },
  // Extra bare endpoints (the anchor of a node: QUIC, keys, certificate).
  async endpoints() {
    const net = networkId(crypto.randomUUID());
    await Endpoint.create({ networkId: net });
    const before = await rss();
    await Promise.all(Array.from({ length: N }, () => Endpoint.create({ networkId: net })));
    return { before, after: await rss(), count: N };
  },
  // Authenticated mosaik connections (both ends live in this process).
  async connections() {
    const net = networkId(crypto.randomUUID());
    const hub = await Endpoint.create({ networkId: net });
    const spokes = await Promise.all(
      Array.from({ length: N }, () => Endpoint.create({ networkId: net })),
    );
    const before = await rss();
    await Promise.all(spokes.map((s) => s.connect(hub.peerId, [hub.hostPort])));
    return { before, after: await rss(), count: N };
  },
  // Raw QUIC connections with the same TLS (the anchor of a connection).
  async quic() {
    const key = SecretKey.generate();
    const server = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const listener = server.listen({ alpnProtocols: ["bench"], ...certificateFor(key) });
    const accepted: Deno.QuicConn[] = [];
    (async () => {
      for await (const incoming of listener) accepted.push(await incoming.accept());
    })();
    const clients = Array.from(
      { length: N },
      () => new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 }),
    );
    const before = await rss();
    await Promise.all(clients.map((endpoint) =>
      Deno.connectQuic({
        endpoint,
        hostname: "127.0.0.1",
        port: server.addr.port,
        alpnProtocols: ["bench"],
        ...pinnedTls(key.peerId),
      })
    ));
    return { before, after: await rss(), count: N };
  },
  // Stream subscriptions between two nodes (one producer and one consumer each).
  async subscriptions() {
    const name = crypto.randomUUID();
    const a = await network(name);
    const b = await network(name, a);
    await b.discovery.when.peers({ minimum: 1 });
    const defs = Array.from({ length: N }, (_, i) => stream<number>(`bench-memory-${i}`));
    const before = await rss();
    const producers = defs.map((d) => a.streams.produce(d));
    defs.forEach((d) => b.streams.consume(d));
    await Promise.all(producers.map((p) => p.when.subscribed()));
    return { before, after: await rss(), count: N };
  },
  // Group members: three nodes joining N groups together.
  async members() {
    const name = crypto.randomUUID();
    const a = await network(name);
    const others = [await network(name, a), await network(name, a)];
    const nodes = [a, ...others];
    await Promise.all(nodes.map((n) => n.discovery.when.peers({ minimum: 2 })));
    const before = await rss();
    const groups = nodes.flatMap((n) =>
      Array.from({ length: N }, (_, i) => {
        let value = 0;
        return n.groups.join({
          key: `bench-memory-${i}`,
          stateMachine: {
            name: "bench.memory/v1",
            apply: (x: number) => value += x,
            query: () => value,
            snapshot: () => value,
            restore: (v: number) => value = v,
          },
          config: { bootstrapExpect: 3 },
        });
      })
    );
    await Promise.all(groups.map((g) => g.when.leaderElected()));
    return { before, after: await rss(), count: groups.length };
  },
};

const scenario = scenarios[Deno.args[0]];
console.log(JSON.stringify(await scenario()));
Deno.exit(0);
