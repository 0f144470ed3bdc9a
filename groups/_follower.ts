// The follower's side of the step core (etcd/raft's stepFollower,
// handleAppendEntries, handleHeartbeat, handleSnapshot): log matching with
// rejection hints, commit from the leader, snapshot chunks reassembled and
// installed, and leadership handed to us (TimeoutNow).
import type { Envelope, MessageOf, NodeId } from "./_messages.ts";
import type { Snapshot } from "./storage.ts";
import type { RaftCore } from "./_raft.ts";
import { campaign } from "./_election.ts";

/** Messages of the leader of our term. */
export function stepFollower(r: RaftCore, from: NodeId, m: Envelope): void {
  if (m.type === "App" || m.type === "Hb" || m.type === "Snap") {
    r.electionElapsed = 0;
    r.lead = from;
  }
  switch (m.type) {
    case "App":
      return onAppend(r, from, m);
    case "Hb":
      r.log.commitTo(Math.min(m.commit, r.log.lastIndex));
      r.send(from, { type: "HbR", term: r.term, ctx: m.ctx, last: r.log.lastIndex });
      return;
    case "Snap":
      return onSnapshotChunk(r, from, m);
    case "TimeoutNow":
      if (r.promotable) campaign(r, true, true);
      return;
  }
}

function onAppend(r: RaftCore, from: NodeId, m: MessageOf<"App">): void {
  const log = r.log;
  if (m.prevIndex < log.committed) {
    accept(r, from, log.committed);
    return;
  }
  if (log.termAt(m.prevIndex) === m.prevTerm) {
    const lastNew = m.prevIndex + m.entries.length;
    const conflict = m.entries.findIndex((e) => log.termAt(e.index) !== e.term);
    if (conflict >= 0) r.append(m.entries.slice(conflict));
    log.commitTo(Math.min(m.commit, lastNew));
    accept(r, from, lastNew);
    return;
  }
  // Reject with a hint: the largest index <= min(prevIndex, last) whose term <= prevTerm.
  let hint = Math.min(m.prevIndex, log.lastIndex);
  while (hint > log.snapIndex && (log.termAt(hint) ?? 0) > m.prevTerm) hint--;
  r.send(from, {
    type: "AppR",
    term: r.term,
    index: m.prevIndex,
    reject: true,
    hint,
    hintTerm: log.termAt(hint) ?? 0,
  });
}

function onSnapshotChunk(r: RaftCore, from: NodeId, m: MessageOf<"Snap">): void {
  const s = m.snapshot;
  if (s.index <= r.log.committed || r.log.termAt(s.index) === s.term) {
    onSnapshot(r, from, s); // nothing to install: acknowledge
    return;
  }
  const got = r.receiver.receive(m);
  if (!got.done || !got.valid) {
    const offset = got.done ? 0 : got.offset;
    r.send(from, { type: "SnapR", term: r.term, index: s.index, offset });
    return;
  }
  onSnapshot(r, from, got.snapshot);
}

/**
 * Installs a snapshot that arrived whole by another way than the leader's
 * chunks (pulled from several peers and checked against the manifest the
 * leader `from` sent in term `term`), as if that leader had sent it: only
 * while it still leads us in that term. Returns whether it was taken.
 */
export function installPulled(r: RaftCore, from: NodeId, term: number, s: Snapshot): boolean {
  if (r.role !== "follower" || r.term !== term || r.lead !== from) return false;
  r.receiver.clear();
  onSnapshot(r, from, s);
  return true;
}

function onSnapshot(r: RaftCore, from: NodeId, s: Snapshot): void {
  const log = r.log;
  if (s.index <= log.committed) {
    accept(r, from, log.committed);
    return;
  }
  if (log.termAt(s.index) === s.term) {
    // Our log holds the snapshot's last entry: keep it, and as etcd answer
    // with the commit index (entries after it may still conflict with the
    // leader's, so they must not count as matching).
    log.commitTo(s.index);
    accept(r, from, log.committed);
    return;
  }
  r.install(s);
  accept(r, from, log.lastIndex);
}

/** Answers an append or snapshot positively: our log matches the sender's up to `index`. */
export function accept(r: RaftCore, to: NodeId, index: number): void {
  r.send(to, { type: "AppR", term: r.term, index, reject: false, hint: 0, hintTerm: 0 });
}
