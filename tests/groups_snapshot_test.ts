// Snapshots larger than the endpoint's frame limit (8 MiB) reach a late
// joiner: InstallSnapshot travels in chunks and is verified before restore.
import assert from "node:assert/strict";
import { within } from "@mosaik/transport/testing";
import { discoverAll, freshNetwork, startNode } from "./_harness.ts";

/** A state machine whose state is one big byte array, filled deterministically from a seed. */
class Blob {
  readonly name = "blob/v1";
  data: Uint8Array = new Uint8Array(0);
  apply(cmd: { size: number; seed: number }): number {
    const out = new Uint8Array(cmd.size);
    const words = new Uint32Array(out.buffer, 0, cmd.size >>> 2);
    let x = cmd.seed >>> 0 || 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.data = out;
    return out.length;
  }
  query(_q: null): string {
    let h = 0;
    for (let i = 0; i < this.data.length; i += 4093) h = (h * 31 + this.data[i]) >>> 0;
    return `${this.data.length}:${h}`;
  }
  snapshot(): Uint8Array {
    return this.data;
  }
  restore(s: Uint8Array): void {
    this.data = s;
  }
}

Deno.test("groups: a ~12 MiB snapshot reaches a late joiner in chunks", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    const key = crypto.randomUUID();
    const config = { snapshotEvery: 2 };
    const a = new Blob();
    const g0 = n[0].groups.join({
      key,
      stateMachine: a,
      config: { ...config, bootstrapExpect: 1 },
    });
    await within(g0.when.online(), 10_000);
    let top = 0;
    for (let seed = 1; seed <= 3; seed++) {
      top = (await within(g0.execute({ size: 12 << 20, seed }), 10_000)).index;
    }
    await discoverAll(n);
    const b = new Blob();
    const g1 = n[1].groups.join({
      key,
      stateMachine: b,
      config: { ...config, bootstrapExpect: 2 },
    });
    await within(g1.when.applied(top), 20_000);
    assert.equal(b.data.length, 12 << 20);
    assert.equal(b.query(null), a.query(null));
    assert.deepEqual(b.data, a.data);
    // The joiner is a full member afterwards: it writes through the leader.
    await within(g1.when.online(), 10_000);
    assert.equal((await within(g1.execute({ size: 16, seed: 9 }), 10_000)).result, 16);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});
