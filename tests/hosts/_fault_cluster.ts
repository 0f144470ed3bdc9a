/**
 * Durable nodes (`_fault_node.ts`) on lab hosts, the lines they printed, and
 * the checks over them: the group history through the linearizability
 * checker, every acknowledged SharedMap write present, stream ticks.
 * Shared by the faults suite and the soak.
 *
 * @module
 */
import { checkKV } from "@mosaik/groups/testing";
import type { Host, Lab } from "./lab.ts";
import type { Line, NodeProcess } from "./process.ts";

const NODE = new URL("./_fault_node.ts", import.meta.url);
const PORT = 7000;

/** One node: a host, its disk and its current process. */
export interface Member {
  /** The lab host. */
  host: Host;
  /** Its data directory (key and group log). */
  dir: string;
  /** The running process. */
  process: NodeProcess;
  /** `<peerId>@host:port`. */
  address: string;
}

/** What a consumer node reports on `summary`. */
export interface TickSummary {
  /** Ticks received. */
  received: number;
  /** Ticks received twice. */
  duplicates: number;
  /** Ticks never received, by their numbers. */
  skipped: number;
  /** Ticks the stream reported missed. */
  missed: number;
}

/** The nodes of one network in a lab, and every line they printed. */
export class FaultCluster {
  /** Every line printed by every process that ever ran. */
  readonly printed: Line[][] = [];
  readonly #lab: Lab;
  readonly #name = `faults-${crypto.randomUUID()}`;

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  /** Starts (or restarts) a node on `host` with its disk at `dir`. */
  async start(
    host: Host,
    dir: string,
    bootstrap: string[],
    options: { producer?: boolean } = {},
  ): Promise<Member> {
    const process = this.#lab.spawn(host, NODE, [
      this.#name,
      `${host.address}:${PORT}`,
      dir,
      JSON.stringify(bootstrap),
      ...(options.producer ? ["producer"] : []),
    ], { allowWrite: [dir] });
    this.printed.push(process.lines);
    const ready = await process.waitFor((l) => l.ready === true, 30_000, `${host.name} ready`);
    return { host, dir, process, address: ready.address as string };
  }

  /** The member that `observer` last saw leading, waiting until it sees one. */
  async leader(observer: Member, members: readonly Member[]): Promise<Member> {
    const start = Date.now();
    for (;;) {
      const seen = observer.process.lines.filter((l) => "leader" in l).at(-1)?.leader;
      const found = members.find((m) => m.address.startsWith(`${seen}@`));
      if (found) return found;
      if (Date.now() - start > 30_000) throw new Error("no leader seen in 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Acknowledged group operations so far. */
  acked(): number {
    return this.printed.flat().filter((l) => l.op === "kv-done" || (l.op === "kv" && l.ret))
      .length;
  }

  /** Waits until the clients got `n` more acknowledged group operations. */
  async progress(n: number, what: string, timeout = 30_000): Promise<void> {
    const target = this.acked() + n;
    const start = Date.now();
    while (this.acked() < target) {
      if (Date.now() - start > timeout) {
        throw new Error(`no progress after ${what}: ${this.acked()} of ${target} acknowledged`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Waits until `member`'s SharedMap replica votes. The store is in memory:
   * a restarted member comes back empty, and the store survives only while
   * a majority of its writers hold its state, so take the next one down only
   * after this.
   */
  async mapVoting(member: Member, timeout = 30_000): Promise<void> {
    // The node prints whether it votes whenever that changes: its last such line is the state.
    const lines = member.process.lines;
    const last = lines.findLastIndex((l) => "mapVoting" in l);
    if (last >= 0 && lines[last].mapVoting === true) return;
    await member.process.waitFor(
      (l) => l.mapVoting === true,
      timeout,
      `${member.host.name} map voting`,
      last + 1,
    );
  }

  /** Acknowledged SharedMap writes missing on `probe` once it applied all of them. */
  async lostMapWrites(probe: NodeProcess): Promise<{ acknowledged: number; lost: Line[] }> {
    const writes = this.printed.flat().filter((l) => l.op === "map");
    const version = Math.max(0, ...writes.map((w) => w.version as number));
    await probe.send({ op: "map-keys", version });
    const listing = await probe.waitFor((l) => Array.isArray(l.mapKeys), 60_000, "map keys")
      .catch((e) => {
        const waiting = probe.lines.findLast((l) => "mapWaiting" in l);
        throw new Error(`${e.message}; last said ${JSON.stringify(waiting)}`);
      });
    const present = new Set(listing.mapKeys as string[]);
    return {
      acknowledged: writes.length,
      lost: writes.filter((w) => !present.has(w.key as string)),
    };
  }

  /** The tick counters of a consumer node, once it received more than `after`. */
  async ticks(consumer: NodeProcess, after = -1): Promise<TickSummary> {
    const start = Date.now();
    for (;;) {
      const seen = consumer.lines.length;
      await consumer.send({ op: "summary" });
      const line = await consumer.waitFor(
        (l) => l.summary !== undefined,
        20_000,
        "tick summary",
        seen,
      );
      const summary = line.summary as TickSummary;
      if (summary.received > after) return summary;
      if (Date.now() - start > 20_000) throw new Error(`no tick after ${after} in 20 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Checks the group history of every client; on failure writes every line
   * to a temporary file and names it.
   */
  async linearizable(): Promise<{ ok: boolean; operations: number; detail?: string }> {
    const lines = this.printed.flat();
    const done = new Map(
      lines.filter((l) => l.op === "kv-done").map((l) => [l.value, l.ret as number]),
    );
    const history = lines.filter((l) => l.op === "kv").map((l) => {
      const input = l.input as ["w", unknown] | ["r"];
      const ret = input[0] === "w" ? done.get(input[1]) ?? Infinity : l.ret as number;
      return { key: l.key as string, call: l.call as number, ret, input, output: l.output };
    });
    const verdict = checkKV(history);
    if (verdict.ok) return { ok: true, operations: history.length };
    const file = await Deno.makeTempFile({ prefix: "mosaik-faults-history-", suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(this.printed));
    return {
      ok: false,
      operations: history.length,
      detail: `key ${verdict.badKey} is not linearizable (all lines: ${file})`,
    };
  }
}
