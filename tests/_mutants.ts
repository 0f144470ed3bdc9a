// The planted bugs of `deno task mutants` (issue 12): each one an exact
// snippet of a file of @mosaik/groups and what replaces it. A snippet that no
// longer occurs exactly once makes the run refuse to start, so a refactor
// cannot silently disable a mutant: update the snippet with the code.

/** One edit of a mutant. */
export interface Edit {
  /** Path from the repository root. */
  file: string;
  /** Code that must occur exactly once in the file. */
  original: string;
  /** What replaces it. */
  replacement: string;
}

/** A planted bug. */
export interface Mutant {
  /** Short name (the `--only` filter). */
  name: string;
  /** What the bug breaks. */
  description: string;
  edits: Edit[];
}

/** Every mutant; all of them must be caught. */
export const MUTANTS: Mutant[] = [
  {
    name: "figure8",
    description: "commit by replica count without the current-term check (read gating kept)",
    edits: [{
      file: "groups/_leader.ts",
      original: "if (q <= log.committed || log.termAt(q) !== r.term) return false;",
      replacement: "if (q <= log.committed) return false;",
    }, {
      file: "groups/_leader.ts",
      original: "    if (!this.committedInTerm) {\n      this.committedInTerm = true;",
      replacement:
        "    if (!this.committedInTerm && log.termAt(q) === r.term) {\n      this.committedInTerm = true;",
    }],
  },
  {
    name: "stale-append",
    description: "a follower accepts appends from a leader of an older term",
    edits: [{
      file: "groups/_raft.ts",
      original: '      if (m.type === "App" || m.type === "Hb") {\n        accept(this, from, 0);',
      replacement:
        '      if (m.type === "App") {\n        stepFollower(this, from, m);\n      } else if (m.type === "Hb") {\n        accept(this, from, 0);',
    }],
  },
  {
    name: "ack-before-fsync",
    description: "the leader counts its own unwritten entries toward commit",
    edits: [{
      file: "groups/_leader.ts",
      original: "this.progress.quorumIndex(voters, log.persistedIndex)",
      replacement: "this.progress.quorumIndex(voters, log.lastIndex)",
    }],
  },
  {
    name: "own-vote-unpersisted",
    description: "a candidate counts its own vote without writing term and vote",
    edits: [{
      file: "groups/_raft.ts",
      original: '    this.role = "candidate";\n    this.persistHard();',
      replacement: '    this.role = "candidate";',
    }],
  },
  {
    name: "vote-unpersisted",
    description: "a granted vote is not written before it is sent",
    edits: [{
      file: "groups/_election.ts",
      original: "      r.vote = from;\n      r.persistHard();",
      replacement: "      r.vote = from;",
    }],
  },
  {
    name: "early-config-change",
    description: "a configuration change before the leader's first own-term commit",
    edits: [{
      file: "groups/_leader.ts",
      original: "return this.#active && this.committedInTerm &&",
      replacement: "return this.#active &&",
    }],
  },
  {
    name: "no-truncation",
    description: "a follower keeps its conflicting suffix instead of truncating it",
    edits: [{
      file: "groups/_follower.ts",
      original: "if (conflict >= 0) r.append(m.entries.slice(conflict));",
      replacement:
        "if (conflict >= 0) r.append(m.entries.slice(conflict).filter((e) => e.index > log.lastIndex));",
    }],
  },
  {
    name: "read-without-heartbeat",
    description: "ReadIndex answers without a quorum confirming the leadership",
    edits: [{
      file: "groups/_leader.ts",
      original: "if (this.#voters.length <= 1) {\n      this.#answer(req, commit);",
      replacement: "if (this.#voters.length >= 1) {\n      this.#answer(req, commit);",
    }],
  },
  {
    name: "read-without-own-commit",
    description: "ReadIndex does not wait for the leader's first commit of its term",
    edits: [{
      file: "groups/_leader.ts",
      original: "    if (!this.committedInTerm) {\n      this.#reads.wait(req);",
      replacement: "    if (!this.committedInTerm && false) {\n      this.#reads.wait(req);",
    }],
  },
  {
    name: "second-vote",
    description: "a voter ignores the vote it already gave in this term",
    edits: [{
      file: "groups/_election.ts",
      original: "(r.vote === undefined && r.lead === undefined)",
      replacement: "r.lead === undefined",
    }],
  },
  {
    name: "up-to-date-without-term",
    description: "the up-to-date check of a vote compares indexes only",
    edits: [{
      file: "groups/_log.ts",
      original:
        "return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);",
      replacement: "return lastIndex >= this.lastIndex;",
    }],
  },
  {
    name: "snapshot-without-sessions",
    description: "snapshots leave out the client sessions (exactly-once breaks)",
    edits: [{
      file: "groups/_apply.ts",
      original: "sessions: this.#sessions.records(),",
      replacement: "sessions: [],",
    }],
  },
];
