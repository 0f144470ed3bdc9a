import assert from "node:assert/strict";
import { digest, type GroupId, networkId, SecretKey, type StreamId, tag } from "@mosaik/transport";
import { decodeSignedEntry, type SignedPeerEntry } from "./entry.ts";
import { LocalEntry } from "./local.ts";

function setup() {
  const key = SecretKey.generate();
  const changes: [SignedPeerEntry, boolean][] = [];
  const local = new LocalEntry(
    key,
    networkId("local-test"),
    ["127.0.0.1:1"],
    [tag("a")],
    (s, c) => changes.push([s, c]),
  );
  return { key, local, changes };
}

Deno.test("local entry: every change re-signs with a newer version; no-ops do nothing", () => {
  const { local, changes } = setup();
  const v0 = local.entry.version;
  local.addTags(tag("a")); // already there
  local.removeTags(tag("zzz")); // not there
  assert.equal(changes.length, 0);
  local.addTags(tag("b"));
  local.addStream(digest<StreamId>("s"));
  local.addConsumedStream(digest<StreamId>("c"));
  local.addGroup(digest<GroupId>("g"));
  local.setAddresses(["127.0.0.1:2"]);
  assert.equal(changes.length, 5);
  let last = v0;
  for (const [signed, changed] of changes) {
    assert.ok(changed);
    assert.ok(signed.entry.version.counter > last.counter);
    assert.equal(signed.entry.version.start, v0.start);
    last = signed.entry.version;
    assert.deepEqual(decodeSignedEntry(signed.bytes).entry, signed.entry);
  }
  assert.deepEqual(local.entry.addresses, ["127.0.0.1:2"]);
  local.removeStream(digest<StreamId>("s"));
  local.removeConsumedStream(digest<StreamId>("c"));
  local.removeGroup(digest<GroupId>("g"));
  assert.deepEqual([local.entry.streams.length, local.entry.groups.length], [0, 0]);
  assert.equal(local.entry.consumes, undefined);
});

Deno.test("local entry: tickets are one per kind; refresh bumps without a change", () => {
  const { local, changes } = setup();
  local.setTicket({ kind: "jwt", data: new Uint8Array([1]) });
  local.setTicket({ kind: "jwt", data: new Uint8Array([2]), expiresAt: 9 });
  assert.equal(local.entry.tickets.length, 1);
  assert.deepEqual(local.entry.tickets[0].data, new Uint8Array([2]));
  local.setTicket({ kind: "jwt", data: new Uint8Array([2]), expiresAt: 9 }); // same: no-op
  assert.equal(changes.length, 2);
  local.removeTicket("jwt");
  assert.equal(local.entry.tickets.length, 0);
  const before = local.entry.version.counter;
  local.refresh();
  assert.ok(local.entry.version.counter > before);
  assert.equal(changes.at(-1)?.[1], false, "a refresh is not a content change");
});
