/**
 * Faults across real hosts: five node processes in their own network
 * namespaces, each a durable member of a key-value group and a SharedMap
 * writer with a client running on it, while the harness takes links down
 * (a minority, the leader, everyone), kills processes with SIGKILL and
 * restarts them on their disk, and wipes one member's disk. At the end every
 * client's history of the group goes through the linearizability checker,
 * and every acknowledged SharedMap write must be present.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkKV } from "@mosaik/groups/testing";
import { type Host, Lab, labSupport } from "./lab.ts";
import type { Line, NodeProcess } from "./process.ts";

const NODE = new URL("./_fault_node.ts", import.meta.url);
const PORT = 7000;

interface Member {
  host: Host;
  dir: string;
  process: NodeProcess;
  address: string;
}

/** Every line printed by every process that ever ran. */
const printed: Line[][] = [];

function acked(): number {
  return printed.flat().filter((l) => l.op === "kv-done" || (l.op === "kv" && l.ret)).length;
}

/** Waits until the clients got `n` more acknowledged group operations. */
async function progress(n: number, what: string, timeout = 30_000): Promise<void> {
  const target = acked() + n;
  const start = Date.now();
  while (acked() < target) {
    if (Date.now() - start > timeout) {
      throw new Error(`no progress after ${what}: ${acked()} of ${target} acknowledged`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function start(
  lab: Lab,
  m: Omit<Member, "process" | "address">,
  name: string,
  bootstrap: string[],
) {
  // f1 produces the stream of ticks (it is never killed); the others consume.
  const role = m.dir.endsWith("/f1") ? ["producer"] : [];
  const process = lab.spawn(m.host, NODE, [
    name,
    `${m.host.address}:${PORT}`,
    m.dir,
    JSON.stringify(bootstrap),
    ...role,
  ], { allowWrite: [m.dir] });
  const lines: Line[] = process.lines;
  printed.push(lines);
  const ready = await process.waitFor((l) => l.ready === true, 30_000, `${m.host.name} ready`);
  return { ...m, process, address: ready.address as string };
}

Deno.test({
  name:
    "faults across hosts: partitions, kill -9, restarts and a wiped disk lose nothing acknowledged",
  ignore: !labSupport().ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using lab = await Lab.create();
    const root = await Deno.makeTempDir({ prefix: "mosaik-faults-" });
    const name = `faults-${crypto.randomUUID()}`;
    const members: Member[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const host = await lab.host(`f${i}`);
        const bootstrap = members.length ? [members[0].address] : [];
        members.push(await start(lab, { host, dir: `${root}/f${i}` }, name, bootstrap));
      }
      const seed = [members[0].address];
      await progress(30, "formation", 60_000);

      // A minority (two of five) cut off, then back.
      await Promise.all([members[3].host.link(false), members[4].host.link(false)]);
      await progress(20, "minority partition");
      await Promise.all([members[3].host.link(true), members[4].host.link(true)]);

      // Everyone isolated: nothing can commit; then healed.
      await Promise.all(members.map((m) => m.host.link(false)));
      await new Promise((r) => setTimeout(r, 1000)); // replies already on the way land
      const cut = acked();
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(acked(), cut, "nothing is acknowledged while no host reaches another");
      await Promise.all(members.map((m) => m.host.link(true)));
      await progress(20, "healing a full partition", 60_000);

      // kill -9 of two members, restarted on their disks.
      for (const i of [0, 2]) {
        await members[i].process.kill();
        members[i] = await start(lab, members[i], name, [members[1].address]);
      }
      await progress(20, "kill -9 and restart");

      // One member loses its disk (its group log and snapshot) and comes back blank.
      await members[4].process.kill();
      await Deno.remove(`${members[4].dir}/group`, { recursive: true });
      members[4] = await start(lab, members[4], name, seed.concat(members[1].address));
      await progress(20, "a wiped disk");

      // Every acknowledged map write is on a member that applied everything.
      const probe = members[1].process;
      const writes = printed.flat().filter((l) => l.op === "map");
      const version = Math.max(...writes.map((w) => w.version as number));
      await probe.send({ op: "map-keys", version });
      const listing = await probe.waitFor((l) => Array.isArray(l.mapKeys), 20_000, "map keys");
      const present = new Set(listing.mapKeys as string[]);
      const lost = writes.filter((w) => !present.has(w.key as string));
      assert.deepEqual(lost, [], `${lost.length} acknowledged map writes lost`);

      // Streams across the partitions: consumers resumed, gaps reported, nothing twice.
      const cutOff = members[3].process;
      await cutOff.send({ op: "summary" });
      const summary = (await cutOff.waitFor((l) => l.summary !== undefined, 20_000, "summary"))
        .summary as { received: number; duplicates: number; skipped: number; missed: number };
      const after = summary.received;
      await new Promise((r) => setTimeout(r, 1000));
      await cutOff.send({ op: "summary" });
      const later = (await cutOff.waitFor(
        (l) =>
          (l.summary as { received?: number } | undefined)?.received !== after &&
          l.summary !== undefined,
        20_000,
        "ticks after the partitions",
      )).summary as { received: number; duplicates: number; skipped: number; missed: number };
      console.log(`faults: a consumer cut off and healed: ${JSON.stringify(later)}`);
      assert.equal(later.duplicates, 0, "no tick delivered twice");
      assert.equal(later.missed, later.skipped, "every tick lost is reported as missed");

      await Promise.all(members.map((m) => m.process.stop()));
      const done = new Map(
        printed.flat().filter((l) => l.op === "kv-done").map((l) => [l.value, l.ret as number]),
      );
      const history = printed.flat().filter((l) => l.op === "kv").map((l) => {
        const input = l.input as ["w", unknown] | ["r"];
        const ret = input[0] === "w" ? done.get(input[1]) ?? Infinity : l.ret as number;
        return { key: l.key as string, call: l.call as number, ret, input, output: l.output };
      });
      const verdict = checkKV(history);
      console.log(
        `faults: ${history.length} group operations (${acked()} acknowledged), ` +
          `${writes.length} acknowledged map writes, linearizable: ${verdict.ok}`,
      );
      if (!verdict.ok) {
        const file = await Deno.makeTempFile({ prefix: "mosaik-faults-history-", suffix: ".json" });
        await Deno.writeTextFile(file, JSON.stringify(printed));
        assert.fail(`history not linearizable for key ${verdict.badKey} (all lines: ${file})`);
      }
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
