// Seeded chaos runs over the simulated cluster: concurrent clients issue
// writes and strong reads while a fault schedule (see Faults) crashes and
// restarts nodes, partitions and heals the network, delays, duplicates and
// reorders messages, skews and freezes clocks, tears writes, wipes disks and
// changes the membership. The judges: the history (plus a final read of every
// key) must be linearizable, every member must apply the same command at
// each index, the members must converge, and no member may discard an
// incarnation that acknowledged a write. A failing seed replays exactly.
import type { Op } from "./_linearizability.ts";
import { checkKV } from "./_linearizability.ts";
import { rng, Sim } from "./_sim.ts";
import type { Replica } from "./_replica.ts";
import type { ReplicaEvent } from "./_replica_types.ts";
import type { Storage } from "./storage.ts";
import { NotMemberError } from "./errors.ts";
import { type Faults, MILD_FAULTS } from "./_faults.ts";

export { type Faults, HARSH_FAULTS, MILD_FAULTS } from "./_faults.ts";

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
  /** Faults besides the mild model's (default: none). */
  faults?: Partial<Faults>;
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

const KEYS = ["a", "b", "c"];

/** Runs one seeded scenario. */
export async function runChaos(seed: number, options: ChaosOptions = {}): Promise<ChaosResult> {
  const f: Faults = { ...MILD_FAULTS, ...options.faults };
  const r = rng(seed ^ 0x9e3779b9);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const between = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  // One seed in ten starts from an explicit single-node bootstrap (a single
  // voter commits alone; with membership faults, learners join and grow it).
  const initial = r() < 0.1 ? 1 : r() < 0.5 ? 3 : 5;
  // Formation waits for a majority of every voter the group may ever have, so
  // blank members (new or wiped) can never form a second group on their own.
  const maxAdded = f.membership ? 2 : 0;
  const expect = Math.floor((initial + maxAdded) / 2) + 1;
  const applied = new Map<string, string>();
  const anomalies: string[] = [];
  const faults: string[] = [];
  const note = (text: string) => faults.push(`${sim.time} ${text}`);
  const sim = new Sim({
    seed,
    nodes: 0,
    maxDelay: 1 + Math.floor(r() * 8),
    drop: r() < 0.3 ? 0.02 : 0,
    longDelayRate: f.longDelays ? 0.002 + r() * 0.01 : 0,
    duplicate: f.duplicates ? r() * 0.05 : 0,
    linger: f.staleMessages ? 0.2 + r() * 0.6 : 0,
    fsync: f.tornCrashes ? [1, between(2, 40)] : undefined,
    storage: options.storage,
    replica: { bootstrapExpect: expect, graceTicks: options.graceTicks ?? 1_000_000 },
    onApply: (node, position, cmd) => {
      // Positions count within an incarnation: separate groups may reuse them.
      const index = `${sim.nodes.get(node)?.replica?.core.cluster}/${position}`;
      const text = JSON.stringify(cmd);
      const prev = applied.get(index);
      if (prev === undefined) applied.set(index, text);
      else if (prev !== text) anomalies.push(`${node} applied ${text} at ${index}, others ${prev}`);
    },
  });
  /** Writes acknowledged per incarnation: discarding one of those loses them. */
  const ackedIn = new Map<string, number>();
  const watch = (rep: Replica) => {
    rep.opts.onEvent = (e: ReplicaEvent) => {
      if (e.type !== "reset") return;
      const lost = ackedIn.get(e.from) ?? 0;
      if (lost) {
        anomalies.push(`${rep.id} discarded incarnation ${e.from} with ${lost} acked writes`);
      }
    };
  };
  const start = (id: string, opts?: Parameters<Sim["start"]>[1]) => {
    try {
      watch(sim.start(id, opts));
    } catch (e) {
      note(`${id} refused to start: ${(e as Error).message}`);
    }
  };
  const ids: string[] = [];
  for (let i = 0; i < initial; i++) {
    const id = `n${i}`;
    ids.push(id);
    sim.add(id, false);
    if (f.skew) sim.setClock(id, between(6, 16));
    if (initial === 1) start(id, { bootstrapExpect: 1 });
    else if (!f.formation || i === 0 || r() < 0.5) start(id);
  }
  /** Members that left for good; never restarted. */
  const departed = new Set<string>();
  /** Members started blank after formation (new or wiped) that are not yet in a configuration. */
  const blank = new Set<string>();
  const history: KVOp[] = [];
  let stop = false;
  let counter = 0;

  const client = async (c: number) => {
    const cr = rng(seed * 31 + c);
    while (!stop) {
      const alive = sim.alive().filter((x) => !departed.has(x.id));
      if (!alive.length) {
        await sim.sleep(50);
        continue;
      }
      const node = alive[Math.floor(cr() * alive.length)];
      const key = KEYS[Math.floor(cr() * KEYS.length)];
      const call = sim.time;
      if (cr() < 0.5) {
        const value = `c${c}-${counter++}`;
        const op: KVOp = { key, call, ret: Infinity, input: ["w", value] };
        try {
          await node.execute([["put", key, value]]);
          op.ret = sim.time;
          const cluster = node.core.cluster ?? "?";
          ackedIn.set(cluster, (ackedIn.get(cluster) ?? 0) + 1);
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

  const down = () => ids.filter((id) => !sim.isUp(id) && !departed.has(id));
  const voters = () => sim.leader()?.core.config?.voters ?? [];
  /** Crashes allowed until a majority is down (then the group is unavailable for a while). */
  const mayCrash = () => down().length < Math.floor((ids.length - departed.size - 1) / 2) + 1;
  /** Nodes kept apart from everyone (the lone blank member of blankFormation). */
  const isolated = new Set<string>();
  const cut = (...groups: string[][]) =>
    sim.partition(
      ...groups.map((g) => g.filter((i) => !isolated.has(i))),
      ...[...isolated].map((i) => [i]),
    );
  const victim = () => {
    const leader = sim.leader();
    const up = ids.filter((id) => sim.isUp(id) && !departed.has(id));
    return leader && r() < 0.6 ? leader.id : up.length ? pick(up) : undefined;
  };

  const actions: [weight: number, run: () => void | Promise<void>][] = [
    [25, () => {
      const v = victim();
      if (v === undefined || !mayCrash()) return;
      const torn = f.tornCrashes && r() < 0.5;
      sim.crash(v, torn);
      note(`crash ${v}${torn ? " (torn write)" : ""}`);
    }],
    [20, () => {
      const d = down();
      if (!d.length) return;
      const id = pick(d);
      start(id);
      note(`restart ${id}`);
    }],
    [25, () => {
      const live = ids.filter((id) => !departed.has(id));
      const shuffled = [...live].sort(() => r() - 0.5);
      const at = 1 + Math.floor(r() * (shuffled.length - 1));
      cut(shuffled.slice(0, at), shuffled.slice(at));
      note(`partition ${shuffled.slice(0, at)} | ${shuffled.slice(at)}`);
    }],
    [10, () => {
      const leader = sim.leader();
      if (!leader) return;
      cut([leader.id], ids.filter((i) => i !== leader.id));
      note(`isolate leader ${leader.id}`);
    }],
    [20, () => {
      cut();
      note("heal");
    }],
  ];
  if (f.pauses) {
    actions.push([8, () => {
      const v = victim();
      if (v === undefined) return;
      const units = between(100, 1500);
      sim.pause(v, units);
      note(`pause ${v} for ${units}`);
    }]);
  }
  if (f.skew) {
    actions.push([6, () => {
      const id = pick(ids);
      const period = between(6, 16);
      sim.setClock(id, period);
      note(`clock of ${id}: a tick every ${period}`);
    }]);
  }
  const blankRoom = () => {
    for (const id of blank) if (sim.isUp(id) && sim.replica(id).core.config) blank.delete(id);
    return blank.size < expect - 1;
  };
  /** One disk at a time, and only while a majority of the voters keeps its data. */
  const mayWipe = () => {
    const cfg = sim.leader()?.core.config;
    if (!blankRoom() || blank.size || !cfg) return false;
    const intact = cfg.voters.filter((v) => !departed.has(v)).length;
    return intact - 1 >= Math.floor(cfg.voters.length / 2) + 1;
  };
  if (f.diskLoss) {
    actions.push([6, () => {
      const v = victim();
      if (v === undefined || !mayCrash() || !mayWipe()) return;
      sim.wipe(v);
      blank.add(v);
      note(`wipe ${v}`);
      if (r() < 0.5) {
        start(v);
        note(`restart ${v} blank`);
      }
    }]);
    actions.push([4, async () => {
      // Issue 12, scenario 2: a follower that holds the leader's latest entries
      // loses its disk while another member lags; the leader crashes as soon as
      // the wiped member has a configuration again (from a snapshot).
      const leader = sim.leader();
      if (!leader || !mayCrash() || !mayWipe()) return;
      const match = leader.core.matchIndexes();
      const followers = leader.core.config!.voters.filter((v) => v !== leader.id && sim.isUp(v));
      if (followers.length < 2) return;
      followers.sort((a, b) => (match.get(b) ?? 0) - (match.get(a) ?? 0));
      const [c, lagging] = [followers[0], followers[followers.length - 1]];
      cut([lagging], ids.filter((i) => i !== lagging));
      note(`isolate ${lagging}`);
      await sim.run(between(50, 400));
      sim.wipe(c);
      blank.add(c);
      start(c);
      note(`wipe ${c} and restart it blank`);
      for (let t = 0; t < 1000 && sim.isUp(c) && !sim.replica(c).core.config; t++) await sim.run(1);
      if (sim.isUp(leader.id)) sim.crash(leader.id);
      cut();
      note(`crash leader ${leader.id}, heal`);
    }]);
  }
  let added = 0;
  if (f.membership) {
    actions.push([6, () => {
      if (added >= maxAdded || !sim.leader() || !blankRoom()) return;
      const id = `n${initial + added++}`;
      // Blank voters could form a group beside a single-node bootstrap: join as learners.
      const learner = initial === 1 || r() < 0.5;
      ids.push(id);
      blank.add(id);
      sim.add(id, false);
      start(id, learner ? { learner: true } : undefined);
      note(`add ${id}${learner ? " as learner" : ""}`);
      if (learner) {
        sim.sleep(between(200, 800)).then(() => sim.isUp(id) && sim.replica(id).promote());
      }
    }]);
    actions.push([3, () => {
      const vs = voters();
      if (vs.length <= 3) return;
      const id = pick(vs);
      if (!sim.isUp(id)) return;
      note(`${id} leaves`);
      sim.replica(id).leave().then(() => {
        departed.add(id);
        sim.crash(id);
        note(`${id} left`);
      }, () => {});
    }]);
  }
  const weights = actions.reduce((s, [w]) => s + w, 0);
  const step = (): void | Promise<void> => {
    let x = r() * weights;
    for (const [w, run] of actions) if ((x -= w) < 0) return run();
  };

  const blankFormation = async () => {
    await sim.until(() => sim.leader() !== undefined && sim.leader()!.applied > 5, 4000);
    await sim.run(between(0, 2000));
    const id = "lone";
    ids.push(id);
    isolated.add(id);
    sim.add(id, false);
    cut(ids);
    start(id, { bootstrapExpect: undefined });
    note(`${id} starts blank and isolated without an expected size`);
    await sim.run(between(600, 1500));
    isolated.delete(id);
    cut();
    note(`${id} meets the group`);
  };

  const schedule = async () => {
    const end = sim.time + (options.duration ?? 8000);
    if (f.formation) {
      // Faults while the group forms: the rest start late, under partitions and crashes.
      while (sim.time < 1000) {
        await sim.run(between(20, 200));
        const d = down();
        if (d.length && r() < 0.6) {
          const id = pick(d);
          start(id);
          note(`start ${id}`);
        } else await step();
      }
    } else await sim.until(() => sim.leader() !== undefined, 2000);
    if (f.blankFormation) blankFormation();
    while (sim.time < end) {
      await sim.run(between(150, 550));
      await step();
    }
    sim.heal();
    for (const id of ids) if (sim.nodes.get(id)!.tearArmedAt !== undefined) sim.crash(id);
    for (const id of down()) start(id);
    note("heal + restart all");
    await sim.run(2000);
    stop = true;
  };

  const clients = Array.from({ length: options.clients ?? 4 }, (_, c) => client(c));
  await schedule();
  const settle = sim.time + 4000;
  let finished = false;
  Promise.all(clients).then(() => finished = true);
  while (!finished && sim.time < settle) await sim.run(10);
  await judge(sim, departed, history, anomalies, options.debug);
  return {
    seed,
    ops: history.length,
    acknowledged: history.filter((o) => o.ret !== Infinity).length,
    faults,
    anomalies,
  };
}

/** Convergence, equal state machines and a final strong read of every key, then the checker. */
async function judge(
  sim: Sim,
  departed: Set<string>,
  history: KVOp[],
  anomalies: string[],
  debug?: boolean,
): Promise<void> {
  const members = () => {
    const cfg = sim.leader()?.core.config;
    if (!cfg) return [];
    return sim.alive().filter((x) =>
      !departed.has(x.id) && (cfg.voters.includes(x.id) || cfg.learners.includes(x.id))
    );
  };
  const converged = await sim.until(() => {
    const reps = members();
    const commit = Math.max(...reps.map((x) => x.core.commit));
    return reps.length > 0 && reps.every((x) => x.applied === commit);
  }, 5000);
  if (!converged) {
    anomalies.push("replicas did not converge");
    if (debug) {
      for (const x of sim.alive()) {
        const c = x.core;
        console.log(x.id, c.role, c.term, c.lead, c.commit, x.applied, c.lastIndex, c.config);
      }
    }
    return;
  }
  const states = members().map((x) => JSON.stringify([...sim.nodes.get(x.id)!.sm.data].sort()));
  if (new Set(states).size !== 1) anomalies.push(`diverged state machines: ${states.join(" / ")}`);
  // A final strong read of every key: a lost acknowledged write shows here at the latest.
  const leader = sim.leader()!;
  for (const key of KEYS) {
    const call = sim.time;
    let out: { v: unknown } | undefined;
    leader.query(key, true).then((v) => out = { v }, () => {});
    if (await sim.until(() => out !== undefined, 2000)) {
      history.push({ key, call, ret: sim.time, input: ["r"], output: out!.v });
    } else anomalies.push(`final read of ${key} failed`);
  }
  const check = checkKV(history);
  if (!check.ok) anomalies.push(`history not linearizable on key ${check.badKey}`);
}
