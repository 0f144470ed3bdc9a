import assert from "node:assert/strict";
import { type Host, Lab, labSupport, run } from "./lab.ts";

const support = labSupport();
const ignore = !support.ok;
if (!support.ok) console.warn(`tests/hosts: skipped: ${support.reason}`);

const UDP = new URL("./_udp.ts", import.meta.url);

async function mappings(nat: "endpoint-independent" | "symmetric") {
  await using lab = await Lab.create();
  const [p1, p2] = [await lab.host("p1"), await lab.host("p2")];
  const home = await lab.lan("home", { nat });
  const inside = await lab.host("a", home);
  const echoes = [p1, p2].map((h) => lab.spawn(h, UDP, ["echo", "7000"]));
  await Promise.all(echoes.map((e) => e.waitFor((l) => l.ready === true)));
  const probe = lab.spawn(inside, UDP, ["probe", `${p1.address}:7000`, `${p2.address}:7000`]);
  const { seen } = await probe.waitFor((l) => l.seen !== undefined) as {
    seen: Record<string, string>;
  };
  return { seen, wan: home.router!.wan!, p1, p2 };
}

Deno.test({ name: "lab: masquerade maps one socket to one public port", ignore }, async () => {
  const { seen, wan, p1, p2 } = await mappings("endpoint-independent");
  const a = seen[`${p1.address}:7000`], b = seen[`${p2.address}:7000`];
  assert.ok(a?.startsWith(`${wan}:`), `p1 saw ${a}`);
  assert.equal(a, b);
});

Deno.test({ name: "lab: masquerade random maps per destination", ignore }, async () => {
  const { seen, wan, p1, p2 } = await mappings("symmetric");
  const a = seen[`${p1.address}:7000`], b = seen[`${p2.address}:7000`];
  assert.ok(a?.startsWith(`${wan}:`) && b?.startsWith(`${wan}:`), `saw ${a} and ${b}`);
  assert.notEqual(a, b);
});

async function reaches(lab: Lab, from: Host, to: Host): Promise<boolean> {
  const probe = lab.spawn(from, UDP, ["probe", `${to.address}:7000`]);
  const { seen } = await probe.waitFor((l) => l.seen !== undefined) as { seen: object };
  return Object.keys(seen).length === 1;
}

Deno.test({
  name: "lab: public hosts cannot reach inside; links go down and up; close removes everything",
  ignore,
}, async () => {
  const lab = await Lab.create();
  try {
    const pub = await lab.host("pub");
    const home = await lab.lan("home", { nat: "endpoint-independent" });
    const inside = await lab.host("in", home);
    const echoes = [pub, inside].map((h) => lab.spawn(h, UDP, ["echo", "7000"]));
    await Promise.all(echoes.map((e) => e.waitFor((l) => l.ready === true)));
    assert.ok(await reaches(lab, inside, pub));
    assert.ok(!await reaches(lab, pub, inside));
    await inside.link(false);
    assert.ok(!await reaches(lab, inside, pub));
    await inside.link(true);
    assert.ok(await reaches(lab, inside, pub));
  } finally {
    await lab.close();
  }
  const left = await run("ip", "netns", "list");
  assert.ok(!left.includes(`mh${Deno.pid}-`), left);
});
