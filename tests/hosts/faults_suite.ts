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
import { Lab, labSupport } from "./lab.ts";
import { FaultCluster, type Member } from "./_fault_cluster.ts";

Deno.test({
  name:
    "faults across hosts: partitions, kill -9, restarts and a wiped disk lose nothing acknowledged",
  ignore: !labSupport().ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using lab = await Lab.create();
    const root = await Deno.makeTempDir({ prefix: "mosaik-faults-" });
    const cluster = new FaultCluster(lab);
    const members: Member[] = [];
    // f1 produces the stream of ticks (it is never killed); the others consume.
    const restart = (m: Member, bootstrap: string[]) =>
      cluster.start(m.host, m.dir, bootstrap, { producer: m === members[1] });
    try {
      for (let i = 0; i < 5; i++) {
        const host = await lab.host(`f${i}`);
        const bootstrap = members.length ? [members[0].address] : [];
        members.push(await cluster.start(host, `${root}/f${i}`, bootstrap, { producer: i === 1 }));
      }
      await cluster.progress(30, "formation", 60_000);

      // A minority (two of five) cut off, then back.
      await Promise.all([members[3].host.link(false), members[4].host.link(false)]);
      await cluster.progress(20, "minority partition");
      await Promise.all([members[3].host.link(true), members[4].host.link(true)]);

      // The leader cut off: the others elect a new one and go on; then back.
      const leader = await cluster.leader(members[1], members);
      await leader.host.link(false);
      await cluster.progress(20, "isolating the leader", 60_000);
      await leader.host.link(true);

      // Everyone isolated: nothing can commit; then healed.
      await Promise.all(members.map((m) => m.host.link(false)));
      await new Promise((r) => setTimeout(r, 1000)); // replies already on the way land
      const cut = cluster.acked();
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(cluster.acked(), cut, "nothing is acknowledged while no host reaches another");
      await Promise.all(members.map((m) => m.host.link(true)));
      await cluster.progress(20, "healing a full partition", 60_000);

      // kill -9 of two members, restarted on their disks.
      for (const i of [0, 2]) {
        await members[i].process.kill();
        members[i] = await restart(members[i], [members[1].address]);
      }
      await cluster.progress(20, "kill -9 and restart");
      // Their SharedMap replicas (in memory) came back empty: wipe a third
      // member only once they vote again, or three of five writers lost the map.
      await Promise.all([cluster.mapVoting(members[0]), cluster.mapVoting(members[2])]);

      // One member loses its disk (its group log and snapshot) and comes back blank.
      await members[4].process.kill();
      await Deno.remove(`${members[4].dir}/group`, { recursive: true });
      members[4] = await restart(members[4], [members[0].address, members[1].address]);
      await cluster.progress(20, "a wiped disk");

      const map = await cluster.lostMapWrites(members[1].process);
      assert.deepEqual(map.lost, [], `${map.lost.length} acknowledged map writes lost`);

      // Streams across the partitions: consumers resumed, nothing twice, every loss reported.
      const cutOff = members[3].process;
      const ticks = await cluster.ticks(cutOff, (await cluster.ticks(cutOff)).received);
      console.log(`faults: a consumer cut off and healed: ${JSON.stringify(ticks)}`);
      assert.equal(ticks.duplicates, 0, "no tick delivered twice");
      assert.equal(ticks.missed, ticks.skipped, "every tick lost is reported as missed");

      await Promise.all(members.map((m) => m.process.stop()));
      const verdict = await cluster.linearizable();
      console.log(
        `faults: ${verdict.operations} group operations (${cluster.acked()} acknowledged), ` +
          `${map.acknowledged} acknowledged map writes, linearizable: ${verdict.ok}`,
      );
      assert.ok(verdict.ok, verdict.detail);
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
