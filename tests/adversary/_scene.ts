// The scene of every attack: a victim node in its own process (see
// _victim.ts), two honest nodes here that form a 3-member group with it and
// consume its stream, and a workload that keeps committing and receiving.
// `underAttack` runs an attack beside that workload and measures what it
// cost the victim: RSS growth (from /proc), the longest event-loop stall,
// and the honest progress made meanwhile.
import assert from "node:assert/strict";
import { delay, type NetworkId, networkId, parsePeerAddress, type PeerId } from "@mosaik/transport";
import { eventually, timeFactor, within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { stream } from "@mosaik/streams";
import { Counter } from "@mosaik/groups/testing";
import { freshName, LOCAL } from "../_harness.ts";
import { NodeProcess } from "../hosts/process.ts";

/**
 * The most a hostile peer may cost the victim. The stall is the victim's own (see
 * _victim.ts), and scales with TIME_FACTOR like every time bound of the tests.
 */
export const MAX_RSS_GROWTH_MIB = 64;
export const MAX_STALL_MS = 250 * timeFactor();
const MIB = 1 << 20;
/** Milliseconds between an honest node's commands: a steady load, not a benchmark. */
const WORKLOAD_PAUSE = 20;

/** What the victim reports (see _victim.ts). */
export interface VictimStats {
  maxLag: number;
  maxStall: number;
  rss: number;
  peakRss: number;
  /** The latest `Deno.memoryUsage()`, and the peaks of its heapTotal and external. */
  memory: Deno.MemoryUsage;
  peakHeap: number;
  peakExternal: number;
  resources: { connections: number; channels: number; refused: Record<string, number> };
  banned: string[];
  /** The victim's catalog: peers held, newcomers refused for a full catalog, evictions. */
  discovery: { peers: number; catalogFull: number; catalogEvicted: number };
}

/** The victim as an attacker sees it. */
export interface Target {
  peerId: PeerId;
  hostPort: string;
  network: NetworkId;
}

/** What an attack cost and what the honest workload did meanwhile. */
export interface Figures {
  rssGrowthMiB: number;
  /**
   * What the RSS growth was made of: the growth of V8's heap (peak heapTotal,
   * heapUsed at the end) and of memory outside it (peak external), MiB.
   */
  heapGrowthMiB: { peakTotal: number; used: number; peakExternal: number };
  /** The longest event-loop stall of the victim's own making. */
  maxStallMs: number;
  /** The latest its timer fired, a busy machine's scheduling included. */
  maxLagMs: number;
  /** Group commits and stream datums the honest nodes saw during the attack. */
  commits: number;
  datums: number;
  refused: Record<string, number>;
  /** The victim's catalog after the attack. */
  discovery: VictimStats["discovery"];
}

/** Bytes in MiB, one decimal. */
function mib(bytes: number): number {
  return Math.round(bytes / MIB * 10) / 10;
}

/** A victim process, two honest nodes and their workload. */
export class Scene implements AsyncDisposable {
  readonly target: Target;
  #victim: NodeProcess;
  #honest: Network[];
  #commits = 0;
  #datums = 0;
  #running = true;
  #work: Promise<unknown>[] = [];

  private constructor(victim: NodeProcess, target: Target, honest: Network[]) {
    this.#victim = victim;
    this.target = target;
    this.#honest = honest;
  }

  /** Starts the victim and the honest nodes; resolves once the workload makes progress. */
  static async start(): Promise<Scene> {
    const name = freshName();
    const key = freshName();
    const streamName = `adversary.${freshName()}`;
    const victim = NodeProcess.local(new URL("./_victim.ts", import.meta.url), [
      name,
      key,
      streamName,
    ], { allowNet: ["127.0.0.1", "[::1]", "localhost"] });
    let scene: Scene | undefined;
    try {
      const ready = await victim.waitFor((l) => l.ready === true, 20_000, "victim ready");
      const address = String(ready.address);
      const { peerId, address: hostPort } = parsePeerAddress(address);
      const honest = await Promise.all(
        [0, 1].map(() => Network.create(name, { ...LOCAL, bootstrap: [address] })),
      );
      scene = new Scene(victim, { peerId, hostPort, network: networkId(name) }, honest);
      scene.#startWorkload(key, streamName);
      await eventually(() => scene!.#commits >= 5 && scene!.#datums >= 5, {
        timeout: 20_000,
        message: "the honest workload makes progress",
      });
      return scene;
    } catch (e) {
      if (scene) await scene.close();
      else await victim.kill();
      throw e;
    }
  }

  #startWorkload(key: string, streamName: string): void {
    const consumer = this.#honest[0].streams.consume(stream<number>(streamName));
    this.#work.push(
      (async () => {
        while (this.#running) if ((await consumer.recv()) !== undefined) this.#datums++;
      })().finally(() => consumer.close()),
    );
    for (const node of this.#honest) {
      const group = node.groups.join({
        key,
        stateMachine: new Counter(),
        config: { bootstrapExpect: 3 },
      });
      this.#work.push((async () => {
        while (this.#running) {
          try {
            await group.execute({ add: 1 }, { signal: AbortSignal.timeout(2_000) });
            this.#commits++;
            await delay(WORKLOAD_PAUSE);
          } catch {
            await delay(50); // no leader yet, or one changing
          }
        }
      })());
    }
  }

  /** The honest nodes' ids (never to be banned). */
  get honestPeers(): string[] {
    return this.#honest.map((n) => n.local.id);
  }

  /** The victim's stats; `reset` zeroes its max lag afterwards. */
  async stats(reset = false): Promise<VictimStats> {
    return await this.#victim.request(reset ? "reset" : "stats") as unknown as VictimStats;
  }

  /**
   * Runs `attack` against the victim while the workload goes on (the victim
   * samples its RSS and event-loop lag meanwhile); then asserts those bounds and that the
   * workload progressed during the attack. Returns the figures. `maxRssGrowthMiB`
   * replaces the suite's RSS bound for an attack known to exceed it;
   * `attackTimeout` bounds the attacker's own sending (ms, scaled).
   */
  async underAttack(
    label: string,
    attack: (target: Target) => Promise<void>,
    attackTimeout = 30_000,
    maxRssGrowthMiB = MAX_RSS_GROWTH_MIB,
  ): Promise<Figures> {
    await delay(300); // the workload's own allocations settle
    const start = await this.stats(true);
    const before = start.rss;
    const commits = this.#commits;
    const datums = this.#datums;
    // at least a second, so that "progress during the attack" means something
    await within(Promise.all([attack(this.target), delay(1_000)]), attackTimeout, label);
    const during = { commits: this.#commits - commits, datums: this.#datums - datums };
    // the workload goes on after the attack too (nothing was left broken)
    await eventually(() => this.#commits > commits + 3 && this.#datums > datums + 3, {
      timeout: 10_000,
      message: `honest progress through ${label}`,
    });
    const stats = await this.stats();
    const figures: Figures = {
      rssGrowthMiB: mib(stats.peakRss - before),
      heapGrowthMiB: {
        peakTotal: mib(stats.peakHeap - start.memory.heapTotal),
        used: mib(stats.memory.heapUsed - start.memory.heapUsed),
        peakExternal: mib(stats.peakExternal - start.memory.external),
      },
      maxStallMs: Math.round(stats.maxStall),
      maxLagMs: Math.round(stats.maxLag),
      commits: during.commits,
      datums: during.datums,
      refused: stats.resources.refused,
      discovery: stats.discovery,
    };
    console.log(
      `${label}: ${JSON.stringify(figures)} (victim RSS before ${(before / MIB).toFixed(1)} MiB)`,
    );
    const banned = stats.banned.filter((p) => this.honestPeers.includes(p));
    assert.deepEqual(banned, [], "honest peers banned");
    assert.ok(
      figures.rssGrowthMiB <= maxRssGrowthMiB,
      `${label}: RSS grew ${figures.rssGrowthMiB} MiB`,
    );
    assert.ok(figures.maxStallMs <= MAX_STALL_MS, `${label}: stalled ${figures.maxStallMs} ms`);
    assert.ok(figures.commits > 0 && figures.datums > 0, `${label}: no honest progress during it`);
    return figures;
  }

  /** Stops the workload, the honest nodes and the victim. */
  async close(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#honest.map((n) => n.close()));
    await Promise.allSettled(this.#work);
    await this.#victim.stop();
  }

  /** Same as {@linkcode Scene.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
