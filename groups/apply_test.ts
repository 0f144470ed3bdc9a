// Exactly-once across snapshots: the client sessions travel in the snapshot,
// so a member restored from it still recognizes a retried command.
import assert from "node:assert/strict";
import { Applier } from "./_apply.ts";
import { encodeBatch } from "./_sessions.ts";
import { KV } from "./_sim.ts";
import { type Entry, EntryType } from "./storage.ts";

const put = (index: number, seq: number, value: string): Entry => ({
  index,
  term: 1,
  type: EntryType.Command,
  data: encodeBatch({
    client: "c",
    seq,
    ack: seq - 1,
    commands: [["add", "n", 1], ["put", "v", value]],
  }),
});

Deno.test("a member restored from a snapshot applies a retried command once", () => {
  const leader = new Applier(new KV(), 16);
  leader.apply([put(1, 1, "a")], () => {});
  const snapshot = leader.snapshot();
  const config = { cluster: "c", voters: ["a"], learners: [] };
  const follower = new Applier(new KV(), 16);
  follower.restore({ index: 1, term: 1, config, data: snapshot });
  // The same command retried after a leader change lands at index 2.
  const results: unknown[][] = [];
  follower.apply([put(2, 1, "a")], (_b, _index, r) => results.push(r));
  assert.equal((follower.sm as KV).data.get("n"), 1, "applied once");
  assert.deepEqual(results, [[1, "a"]], "the retry gets the first result");
});
