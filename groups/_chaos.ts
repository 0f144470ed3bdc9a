// Seeded chaos runs over the simulated cluster: concurrent clients issue
// writes and strong reads while a fault schedule crashes nodes (leaders
// preferred), restarts them from their durable store, partitions and heals.
// The history is checked for linearizability; applied entries must agree on
// every node (state machine safety) and all nodes must converge. A failing
// seed replays deterministically.
import type { Op } from "./_linearizability.ts";
import { checkKV } from "./_linearizability.ts";
import { rng, Sim } from "./_sim.ts";
import type { Storage } from "./storage.ts";
import { NotMemberError } from "./errors.ts";

/** Result of one chaos run. */
export interface ChaosResult {
  /** The seed (replays the run). */
  seed: number;
  /** Operations in the checked history. */
  ops: number;
  /** Operations that got an answer. */
  acknowledged: number;
  /** The fault schedule that ran. */
  faults: string[];
  /** Violations found (empty when the run is correct). */
  anomalies: string[];
}

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  /** Virtual time units of faults and traffic (a tick is 10 units). Default 8000. */
  duration?: number;
  /** Concurrent clients. Default 4. */
  clients?: number;
  /** Storage factory (default in memory, surviving simulated crashes). */
  storage?: (id: string) => Storage;
  /** Use local (weak) reads: only to show that the checker catches stale reads. */
  weakReads?: boolean;
  /** Grace period in ticks before absent members are removed (default: never). */
  graceTicks?: number;
  /** Print replica states when convergence fails. */
  debug?: boolean;
}

type KVOp = Op<["w", unknown] | ["r"], unknown> & { key: string };

/** Runs one seeded scenario. */
export async function runChaos(seed: number, options: ChaosOptions = {}): Promise<ChaosResult> {
  const r = rng(seed ^ 0x9e3779b9);
  const nodes = r() < 0.5 ? 3 : 5;
  const applied = new Map<string, string>();
  const anomalies: string[] = [];
  const sim = new Sim({
    seed,
    nodes,
    maxDelay: 1 + Math.floor(r() * 8),
    drop: r() < 0.3 ? 0.02 : 0,
    storage: options.storage,
    replica: options.graceTicks ? { graceTicks: options.graceTicks } : undefined,
    onApply: (node, index, cmd) => {
      const text = JSON.stringify(cmd);
      const prev = applied.get(index);
      if (prev === undefined) applied.set(index, text);
      else if (prev !== text) anomalies.push(`${node} applied ${text} at ${index}, others ${prev}`);
    },
  });
  for (const n of sim.nodes.values()) {
    sim.replica(n.id).opts.onEvent = (e) => {
      if (e.type === "reset") anomalies.push(`unexpected reset on ${n.id}`);
    };
  }
  const ids = [...sim.nodes.keys()];
  const history: KVOp[] = [];
  const keys = ["a", "b", "c"];
  let stop = false;
  let counter = 0;

  const client = async (c: number) => {
    const cr = rng(seed * 31 + c);
    while (!stop) {
      const alive = sim.alive();
      if (!alive.length) {
        await sim.sleep(50);
        continue;
      }
      const node = alive[Math.floor(cr() * alive.length)];
      const key = keys[Math.floor(cr() * keys.length)];
      const call = sim.time;
      if (cr() < 0.5) {
        const value = `c${c}-${counter++}`;
        const op: KVOp = { key, call, ret: Infinity, input: ["w", value] };
        try {
          await node.execute([["put", key, value]]);
          op.ret = sim.time;
        } catch (e) {
          if (e instanceof NotMemberError) continue;
          // unknown outcome: stays pending (ret = Infinity)
        }
        history.push(op);
      } else {
        try {
          const value = await node.query(key, !options.weakReads);
          history.push({ key, call, ret: sim.time, input: ["r"], output: value });
        } catch {
          // a failed read has no effect
        }
      }
      await sim.sleep(Math.floor(cr() * 20));
    }
  };

  const faults: string[] = [];
  const schedule = async () => {
    const end = sim.time + (options.duration ?? 8000);
    await sim.until(() => sim.leader() !== undefined, 2000);
    while (sim.time < end) {
      await sim.run(150 + Math.floor(r() * 400));
      const down = ids.filter((id) => !sim.nodes.get(id)!.replica);
      const x = r();
      if (x < 0.25) {
        const leader = sim.leader();
        const victim = leader && r() < 0.7 ? leader.id : ids[Math.floor(r() * ids.length)];
        if (sim.nodes.get(victim)!.replica && down.length < Math.floor((nodes - 1) / 2) + 1) {
          sim.crash(victim);
          faults.push(`${sim.time} crash ${victim}`);
        }
      } else if (x < 0.45 && down.length) {
        const id = down[Math.floor(r() * down.length)];
        sim.start(id);
        const rep = sim.replica(id);
        rep.opts.onEvent = (e) => {
          if (e.type === "reset") anomalies.push(`unexpected reset on ${id}`);
        };
        faults.push(`${sim.time} restart ${id}`);
      } else if (x < 0.7) {
        const shuffled = [...ids].sort(() => r() - 0.5);
        const cut = 1 + Math.floor(r() * (ids.length - 1));
        sim.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        faults.push(`${sim.time} partition ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
      } else if (x < 0.8) {
        const leader = sim.leader();
        if (leader) {
          sim.partition([leader.id], ids.filter((i) => i !== leader.id));
          faults.push(`${sim.time} isolate leader ${leader.id}`);
        }
      } else {
        sim.heal();
        faults.push(`${sim.time} heal`);
      }
    }
    sim.heal();
    for (const id of ids) if (!sim.nodes.get(id)!.replica) sim.start(id);
    faults.push(`${sim.time} heal + restart all`);
    await sim.run(1500);
    stop = true;
  };

  const clients = Array.from({ length: options.clients ?? 4 }, (_, c) => client(c));
  const done = schedule();
  // Drive the simulation until the schedule ends and clients drain.
  await done;
  const settle = sim.time + 4000;
  let finished = false;
  Promise.all(clients).then(() => finished = true);
  while (!finished && sim.time < settle) await sim.run(10);
  const converged = await sim.until(() => {
    const reps = sim.alive();
    const commit = Math.max(...reps.map((x) => x.core.commit));
    return reps.every((x) => x.applied === commit);
  }, 5000);
  if (!converged) {
    anomalies.push("replicas did not converge");
    if (options.debug) {
      for (const x of sim.alive()) {
        console.log(
          x.id,
          x.core.role,
          x.core.term,
          x.core.lead,
          x.core.commit,
          x.applied,
          x.core.lastIndex,
          x.core.firstIndex,
          JSON.stringify(x.core.config?.voters),
        );
        if (x.core.role === "leader") {
          console.log((x.core as unknown as { progress: unknown }).progress);
        }
      }
    }
  }
  const states = sim.alive().map((x) => JSON.stringify([...sim.nodes.get(x.id)!.sm.data].sort()));
  if (new Set(states).size !== 1) anomalies.push(`diverged state machines: ${states.join(" / ")}`);
  const check = checkKV(history);
  if (!check.ok) anomalies.push(`history not linearizable on key ${check.badKey}`);
  return {
    seed,
    ops: history.length,
    acknowledged: history.filter((o) => o.ret !== Infinity).length,
    faults,
    anomalies,
  };
}
