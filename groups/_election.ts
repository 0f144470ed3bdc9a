// Elections (etcd/raft's campaign, vote handling and stepCandidate): PreVote
// first, so a node that cannot win never raises the term; a vote is written
// before it is granted; a node without a configuration helps elect only a
// candidate holding nothing but the bootstrap configuration.
import type { Envelope, MessageOf, NodeId } from "./_messages.ts";
import { quorum } from "./_progress.ts";
import type { RaftCore } from "./_raft.ts";

/**
 * Starts a PreVote round, or with `force` a real election (after a won
 * PreVote, or when leadership is handed to us).
 */
export function campaign(r: RaftCore, force: boolean, transfer = false): void {
  const voters = r.config!.voters;
  if (!force) {
    r.becomePreCandidate();
    r.votes.set(r.id, true);
    if (tally(r).won) return campaign(r, true);
    for (const v of voters) {
      if (v === r.id) continue;
      r.send(v, {
        type: "PreVote",
        term: r.term + 1,
        lastIndex: r.log.lastIndex,
        lastTerm: r.log.lastTerm,
        voterEpoch: r.config!.epochs?.[v],
      });
    }
    return;
  }
  r.becomeCandidate();
  r.votes.set(r.id, true);
  if (tally(r).won) return r.becomeLeader();
  for (const v of voters) {
    if (v === r.id) continue;
    r.send(v, {
      type: "Vote",
      term: r.term,
      lastIndex: r.log.lastIndex,
      lastTerm: r.log.lastTerm,
      force: transfer || undefined,
      voterEpoch: r.config!.epochs?.[v],
    });
  }
}

/** Answers a (pre-)vote request of the current or, for PreVote, a future term. */
export function onVote(r: RaftCore, from: NodeId, m: MessageOf<"Vote" | "PreVote">): void {
  const canVote = r.vote === from ||
    (r.vote === undefined && r.lead === undefined) ||
    (m.type === "PreVote" && m.term > r.term);
  // A member whose storage epoch is not the one the candidate (or its own
  // configuration) lists lost its storage: it may have acknowledged entries
  // it no longer holds, and voted in terms it forgot. It votes again only
  // once the leader re-added it with its new epoch (etcd's remove-and-re-add).
  const notThatVoter = (m.voterEpoch !== undefined && m.voterEpoch !== r.epoch) ||
    (!!r.config?.voters.includes(r.id) && !r.isVoter);
  // Without epochs, a node that holds no configuration (never received the
  // log, or lost its storage) only helps elect a candidate whose log holds
  // nothing but the bootstrap configuration (index 1).
  const blank = r.config === undefined && m.lastIndex > 1 && m.voterEpoch === undefined;
  const type = m.type === "Vote" ? "VoteR" : "PreVoteR";
  if (canVote && !notThatVoter && !blank && r.log.isUpToDate(m.lastIndex, m.lastTerm)) {
    if (m.type === "Vote") {
      r.electionElapsed = 0;
      r.vote = from;
      r.persistHard();
    }
    r.send(from, { type, term: m.term, reject: false });
  } else {
    r.send(from, { type, term: r.term, reject: true });
  }
}

/** Votes for a (pre-)candidate. */
export function stepCandidate(r: RaftCore, from: NodeId, m: Envelope): void {
  switch (m.type) {
    case "PreVoteR":
    case "VoteR": {
      if ((m.type === "PreVoteR") !== (r.role === "precandidate")) return;
      r.votes.set(from, !m.reject);
      const { won, lost } = tally(r);
      if (won) {
        if (r.role === "precandidate") campaign(r, true);
        else r.becomeLeader();
      } else if (lost) {
        r.becomeFollower(r.term, undefined);
      }
      return;
    }
  }
}

function tally(r: RaftCore): { won: boolean; lost: boolean } {
  let granted = 0;
  let rejected = 0;
  for (const v of r.config?.voters ?? []) {
    const vote = r.votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const q = quorum(r.config?.voters.length ?? 0);
  return { won: granted >= q, lost: rejected >= q };
}
