// Who counts as a voter and who may move a member's term. A voter is a
// member id of the configuration together with the storage epoch it had when
// it was added: a member that lost its storage starts with a new epoch, so it
// is no longer that voter (it may have acknowledged entries it no longer
// holds and forgotten its votes) until the leader re-adds it (etcd's rule:
// disk loss is remove-and-re-add).
import type { Envelope, NodeId } from "./_messages.ts";
import type { RaftCore } from "./_raft.ts";
import type { Config } from "./storage.ts";

/** Whether `id` with storage epoch `epoch` is a voter of `config` (a config without its epoch accepts any). */
export function isVoterIn(
  config: Config | undefined,
  id: NodeId,
  epoch: string | undefined,
): boolean {
  if (!config?.voters.includes(id)) return false;
  const expected = config.epochs?.[id];
  return expected === undefined || expected === epoch;
}

/** A fresh random storage epoch (64 bits, hex). */
export function newEpoch(random: () => number): string {
  const word = () => Math.floor(random() * 0x100000000).toString(16).padStart(8, "0");
  return word() + word();
}

/**
 * How far a leader outside the known configuration may move a member's term:
 * a group elects a few leaders while a member is cut off, not millions, and
 * a bounded step keeps a key holder from pushing terms toward the wire's
 * maximum (where the next term could no longer be sent).
 */
export const MAX_OUTSIDE_TERM_STEP = 1024;

/**
 * Whether `from` may move `r` to a higher term. Only voters of the
 * configuration `r` knows may (whatever their storage epoch: `r` may not
 * know yet that a member that lost its storage was re-added): a key holder
 * outside it (a learner, a stranger with the group key) could otherwise
 * poison the term with one message. Three exceptions keep members live: a
 * member without a configuration (blank, joining) follows whoever leads, and
 * a member that heard no leader for three election timeouts accepts a
 * leader's message from outside its configuration (it may have missed the
 * entry that added that leader while it was cut off), and a (pre-)vote
 * request from outside it whose log is ahead of its own (the entry that added
 * that candidate may be among what it missed; without its vote no quorum may
 * exist), if its term is at most {@linkcode MAX_OUTSIDE_TERM_STEP} ahead.
 */
export function mayRaiseTerm(r: RaftCore, from: NodeId, m: Envelope): boolean {
  const config = r.config;
  if (!config || config.voters.includes(from)) return true;
  if (m.term - r.term > MAX_OUTSIDE_TERM_STEP) return false;
  // A member that cannot campaign keeps `lead` after its leader went silent: silence counts.
  const silent = r.leaderless >= 3 * r.opts.electionTicks;
  if (m.type === "App" || m.type === "Hb" || m.type === "Snap") return silent;
  if (m.type !== "Vote" && m.type !== "PreVote") return false;
  const ahead = m.lastIndex > r.log.lastIndex && r.log.isUpToDate(m.lastIndex, m.lastTerm);
  return silent && ahead;
}

/** Whether `r` heard from a leader within an election timeout (its lease: votes are refused). */
export function inLease(r: RaftCore): boolean {
  return r.lead !== undefined && r.electionElapsed < r.opts.electionTicks;
}
