// `mosaik demo`: a local swarm on loopback. Eight nodes that know only one
// seed address find each other, stream prices, elect a Raft leader for a
// counter, replicate a map, survive the leader's crash and leave gracefully.
import { Network } from "./network.ts";
import { say } from "./_cli_args.ts";
import { stream } from "@mosaik/streams";
import { SharedMap } from "@mosaik/collections";
import type { StateMachine } from "@mosaik/groups";

const short = (id: string) => id.slice(0, 8);

class Counter implements StateMachine<{ add: number }, number, "value", number, number> {
  readonly name = "counter/v1";
  value = 0;
  apply(cmd: { add: number }): number {
    return this.value += cmd.add;
  }
  query(): number {
    return this.value;
  }
  snapshot(): number {
    return this.value;
  }
  restore(value: number): void {
    this.value = value;
  }
}

/** Runs the swarm demo with `size` nodes (at least 5), printing each step. */
export async function runDemo(size: number): Promise<void> {
  const SIZE = Math.max(5, size);
  const APP = `swarm-demo-${crypto.randomUUID()}`;
  const local = { listen: "127.0.0.1:0", mdns: false, dht: false } as const;
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(2)}s`.padStart(7);
  const log = (msg: string) => say(`[${elapsed()}] ${msg}`);

  // 1. Discovery: every node is told only the seed's address.
  const seed = await Network.create(APP, local);
  const nodes = [seed];
  for (let i = 1; i < SIZE; i++) {
    nodes.push(await Network.create(APP, { ...local, bootstrap: [seed.local.address] }));
  }
  log(`${SIZE} nodes up; each knows only the seed ${short(seed.local.id)}`);
  await Promise.all(nodes.map((n) => n.discovery.when.peers({ minimum: SIZE - 1 })));
  log(`discovery converged: every catalog holds all ${SIZE - 1} other peers`);

  // 2. Streams: two producers, every other node consumes.
  const Prices = stream<{ sym: string; px: number; from: string }>("prices", {
    schema: "price/v1",
  });
  const producers = nodes.slice(0, 2).map((n) => n.streams.produce(Prices));
  const consumers = nodes.slice(2).map((n) => n.streams.consume(Prices));
  await Promise.all(producers.map((p) => p.when.subscribed({ minimum: consumers.length })));
  log(`streams: 2 producers, each subscribed by ${consumers.length} consumers`);
  const PER_PRODUCER = 500;
  for (let i = 0; i < PER_PRODUCER; i++) {
    for (const [k, p] of producers.entries()) {
      await p.send({ sym: "ETH", px: 3000 + i, from: `producer-${k}` });
    }
  }
  const counts = await Promise.all(consumers.map(async (c) => {
    for (let got = 0; got < 2 * PER_PRODUCER; got++) await c.recv();
    return 2 * PER_PRODUCER;
  }));
  log(
    `streams: every consumer received all ${counts[0]} datums (${consumers.length} × ${counts[0]})`,
  );

  // 3. Groups: five nodes form a Raft group with no static member list.
  const voters = nodes.slice(0, 5);
  const groups = voters.map((n) =>
    n.groups.join({
      key: "counter",
      stateMachine: new Counter(),
      config: { bootstrapExpect: voters.length },
    })
  );
  const leader = await groups[0].when.leaderElected();
  await Promise.all(groups.map((g) => g.when.online()));
  log(`groups: leader ${short(leader)} elected among ${groups[0].members.voters.length} voters`);
  for (const [i, g] of groups.entries()) await g.execute({ add: i + 1 });
  log(
    `groups: counter = ${await groups[4].query("value", { consistency: "strong" })} (strong read)`,
  );

  // 4. Collections: a replicated map, written on one node, read on another.
  const writer = SharedMap.writer<string, number>(nodes[1], "balances");
  const reader = SharedMap.reader<string, number>(nodes[SIZE - 1], "balances");
  await writer.when.online();
  const version = await writer.insert("alice", 100);
  await reader.when.reaches(version);
  log(`collections: reader sees alice = ${reader.get("alice")} at version ${version}`);

  // 5. Fault: the leader's node crashes (endpoint closed, no goodbye).
  const victim = voters.findIndex((n) => n.local.id === leader);
  const started = performance.now();
  await voters[victim].endpoint.close();
  const survivor = groups[(victim + 1) % groups.length];
  const next = await survivor.when.leaderChanged();
  log(
    `groups: leader ${short(leader)} crashed; ${short(String(next))} took over in ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );
  const after = await survivor.execute({ add: 100 });
  log(`groups: committed at index ${after.index} after failover, counter = ${after.result}`);

  // 6. Graceful departure: the others see it in their catalogs.
  const leaving = nodes[SIZE - 2];
  await leaving.close();
  await Promise.all(
    nodes.filter((n) => n !== leaving && n !== voters[victim]).map((n) =>
      new Promise<void>((resolve) => {
        if (!n.discovery.catalog.get(leaving.local.id)) return resolve();
        const off = n.discovery.catalog.subscribe((e) => {
          if (e.entry.peerId === leaving.local.id && e.type === "departed") {
            off();
            resolve();
          }
        });
      })
    ),
  );
  log(`discovery: ${short(leaving.local.id)} left; every catalog dropped it`);

  await Promise.all(consumers.map((c) => c.close()));
  const closing = performance.now();
  for (const n of nodes) await n.close();
  log(`all nodes closed (${(performance.now() - closing).toFixed(0)} ms, one after another)`);
}
