// What a member reports about incarnations of its group: resets (it gave
// up an incarnation without writes for another one) and conflicts (two
// incarnations holding writes met and stay apart), to listeners, a counter
// and the log.
import type { GroupId, PeerId } from "@mosaik/transport";
import type { ReplicaEvent } from "./_replica_types.ts";
import { groupsLog } from "./_logging.ts";

/**
 * Two incarnations of a group that both hold writes met (see the package
 * doc); they stay apart until `group.resolve` chooses one.
 */
export interface ConflictEvent {
  /** This member's incarnation. */
  mine: string;
  /** The other incarnation. */
  theirs: string;
  /** The member of the other incarnation that was met. */
  peer: PeerId;
}

/** A reset after two incarnations of a group met (see the package doc). */
export interface ResetEvent {
  /** Incarnation this member left. */
  from: string;
  /** Incarnation it joined. */
  to: string;
  /** Log entries discarded. */
  discarded: number;
  /** Of which were committed in the losing incarnation. */
  committed: number;
}

/** See the file comment. */
export class IncarnationEvents {
  readonly #group: GroupId;
  readonly #resets = new Set<(e: ResetEvent) => void>();
  readonly #conflicts = new Set<(e: ConflictEvent) => void>();
  /** Conflicts reported so far. */
  conflicts = 0;

  constructor(group: GroupId) {
    this.#group = group;
  }

  /** Hands a reset or conflict of the replica to the listeners (conflicts also to the log). */
  report(e: Extract<ReplicaEvent, { type: "reset" | "conflict" }>): void {
    if (e.type === "reset") {
      for (const fn of this.#resets) fn(e);
      return;
    }
    this.conflicts++;
    groupsLog.warn(
      `group ${this.#group}: incarnation ${e.mine} met incarnation ${e.theirs} (member ${e.peer}); ` +
        "both hold writes, so they stay apart until group.resolve() chooses one " +
        "(or the losing members restart with empty storage)",
    );
    const event = { mine: e.mine, theirs: e.theirs, peer: e.peer as PeerId };
    for (const fn of this.#conflicts) fn(event);
  }

  /** Calls `fn` on every reset; returns an unsubscribe. */
  onReset(fn: (e: ResetEvent) => void): () => void {
    this.#resets.add(fn);
    return () => this.#resets.delete(fn);
  }

  /** Calls `fn` on every conflict; returns an unsubscribe. */
  onConflict(fn: (e: ConflictEvent) => void): () => void {
    this.#conflicts.add(fn);
    return () => this.#conflicts.delete(fn);
  }
}
