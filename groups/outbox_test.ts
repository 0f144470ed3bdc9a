import assert from "node:assert/strict";
import { rng } from "./_sim.ts";
import type { NodeId } from "./_messages.ts";
import { RaftCore } from "./_raft.ts";
import { Outbox } from "./_outbox.ts";
import type { ReplicaMessage } from "./_replica_types.ts";
import { type GroupCommit, MemoryStorage } from "./storage.ts";

/** A store whose writes wait for a flush the test completes by hand. */
class ManualSync extends MemoryStorage {
  unsyncedWrites = 0;
  #waiting: (() => void)[] = [];
  readonly groupCommit: GroupCommit = ((store: ManualSync) => ({
    get unsynced(): boolean {
      return store.unsyncedWrites > 0;
    },
    flush: () => {
      store.unsyncedWrites = 0;
      return new Promise<void>((r) => store.#waiting.push(r));
    },
  }))(this);
  override setHardState(...a: Parameters<MemoryStorage["setHardState"]>): void {
    this.unsyncedWrites++;
    super.setHardState(...a);
  }
  override append(...a: Parameters<MemoryStorage["append"]>): void {
    this.unsyncedWrites++;
    super.append(...a);
  }
  /** Completes the flushes under way. */
  complete(): void {
    for (const r of this.#waiting.splice(0)) r();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function setup(storage: ManualSync, core: RaftCore) {
  const out: { to: NodeId; msg: ReplicaMessage }[] = [];
  const outbox: Outbox = new Outbox({
    groupCommit: storage.groupCommit,
    core: () => core,
    closed: () => false,
    send: (to, msg) => out.push({ to, msg }),
    flushed: () => {
      for (const o of core.ready().messages) outbox.send(o.to, o.msg);
    },
    failed: (e) => {
      throw e;
    },
  });
  const drain = () => {
    for (const o of core.ready().messages) outbox.send(o.to, o.msg);
    outbox.sync();
  };
  return { out, drain };
}

Deno.test("group commit: a follower's acknowledgement waits for the flush of the entries", async () => {
  const storage = new ManualSync();
  const config = { cluster: "c", voters: ["l", "f"], learners: [] };
  storage.append([{ index: 1, term: 1, type: 2, config }]);
  storage.unsyncedWrites = 0;
  const f = new RaftCore("f", storage, rng(1));
  const { out, drain } = setup(storage, f);
  const data = new Uint8Array([1]);
  const entries = [{ index: 2, term: 1, type: 1 as const, data }];
  f.step("l", { type: "App", term: 1, prevIndex: 1, prevTerm: 1, entries, commit: 1 });
  drain();
  assert.equal(out.length, 0, "nothing leaves before the entries are durable");
  f.step("l", {
    type: "App",
    term: 1,
    prevIndex: 2,
    prevTerm: 1,
    entries: [{ index: 3, term: 1, type: 1, data }],
    commit: 1,
  });
  drain();
  assert.equal(out.length, 0);
  storage.complete(); // the first flush covered entry 2 and the term; entry 3 waits for the next
  await tick();
  assert.deepEqual(out.map((o) => (o.msg as { index: number }).index), [2]);
  storage.complete();
  await tick();
  assert.deepEqual(out.map((o) => (o.msg as { index: number }).index), [2, 3]);
});

Deno.test("group commit: a leader sends before its write but commits only after the flush", async () => {
  const storage = new ManualSync();
  const config = { cluster: "c", voters: ["l"], learners: ["x"] };
  storage.append([{ index: 1, term: 1, type: 2, config }]);
  storage.setHardState({ term: 1 });
  storage.unsyncedWrites = 0;
  const l = new RaftCore("l", storage, rng(2));
  const { out, drain } = setup(storage, l);
  l.campaignNow();
  assert.equal(l.role, "leader");
  l.advance(); // writes the no-op (and the new term was written by the campaign)
  drain();
  assert.equal(out.length, 0, "a new leader waits until what it wrote before leading is durable");
  assert.equal(l.commit, 0);
  storage.complete();
  await tick();
  assert.equal(l.commit, 2, "the no-op commits once flushed");
  assert.ok(out.length > 0, "held messages left after the flush");
  l.step("x", { type: "AppR", term: l.term, index: 2, reject: false, hint: 0, hintTerm: 0 });
  drain();
  const sent = out.length;
  l.propose([new Uint8Array([7])]);
  drain();
  assert.ok(out.length > sent, "a leader whose earlier writes are durable sends at once");
  l.advance();
  drain();
  assert.equal(l.commit, 2, "its own entry is not counted before the flush");
  storage.complete();
  await tick();
  assert.equal(l.commit, 3);
});
