import assert from "node:assert/strict";
import { timeFactor } from "@mosaik/transport/testing";
import { DelaySwitch, delaySwitchSupport } from "./delay_switch.ts";

const support = delaySwitchSupport();
const ignore = !support.ok;
if (!support.ok) console.warn(`tests/hosts: delay switch skipped: ${support.reason}`);

const PROBE = new URL("./_rtt_probe.ts", import.meta.url);

async function rtts(sw: DelaySwitch, from: string, to: string, count = 15): Promise<number[]> {
  const m = sw.spawn(sw.host(from), PROBE, ["measure", `${sw.host(to).address}:7000`, `${count}`]);
  const { rtts } = await m.waitFor((l) => l.rtts !== undefined) as { rtts: number[] };
  return rtts.slice(1); // the first one waits for ARP too
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

Deno.test(
  { name: "delay switch: link and pair delays, jitter and loss on the wire", ignore },
  async () => {
    await using sw = await DelaySwitch.create(["a", "b", "c"]);
    for (const h of ["b", "c"]) {
      await sw.spawn(sw.host(h), PROBE, ["echo", "7000"]).waitFor((l) => l.ready === true);
    }
    // Slack above the set delay: the forwarder's timers and two Deno processes on a shared machine.
    const slack = 15 * timeFactor();
    await sw.link("b", { delay: 10 });
    const ab = await rtts(sw, "a", "b");
    assert.ok(Math.min(...ab) >= 20 && median(ab) < 20 + slack, `a ⇄ b ${ab}`);
    await sw.pair("a", "c", 30);
    const ac = await rtts(sw, "a", "c");
    assert.ok(Math.min(...ac) >= 60 && median(ac) < 60 + slack, `a ⇄ c ${ac}`);
    await sw.pair("a", "c", null);
    await sw.link("c", { delay: 2, jitter: 2 });
    const jittered = await rtts(sw, "a", "c", 30);
    assert.ok(Math.min(...jittered) >= 0 && median(jittered) < 4 + slack, `jitter ${jittered}`);
    await sw.link("b", { delay: 10, loss: 1 });
    assert.deepEqual(await rtts(sw, "a", "b", 3), []);
  },
);
