// Applying committed entries to the state machine through the session table,
// taking snapshots of both, and restoring them. Identical on every member.
import { decode, encode } from "@mosaik/transport";
import type { Entry, Snapshot } from "./storage.ts";
import { EntryType } from "./storage.ts";
import type { StateMachine } from "./state_machine.ts";
import { type Batch, decodeBatch, type SessionRecord, Sessions } from "./_sessions.ts";

/** What a snapshot's data holds. */
interface SnapshotData {
  sm: unknown;
  sessions: SessionRecord[];
  /** Commands applied since the incarnation formed. */
  commands?: number;
}

/** See the file comment. */
export class Applier {
  readonly sm: StateMachine;
  readonly #sessions: Sessions;
  readonly #initial: Uint8Array;
  /** Highest index applied. */
  applied = 0;
  /** Commands applied since the incarnation formed (its weight when incarnations meet). */
  commands = 0;

  constructor(sm: StateMachine, maxSessions: number) {
    this.sm = sm;
    this.#sessions = new Sessions(maxSessions);
    this.#initial = encode(sm.snapshot());
  }

  /**
   * Applies `entries` (the next committed ones, in order); `done` learns the
   * results of each batch.
   */
  apply(entries: Entry[], done: (b: Batch, index: number, results: unknown[]) => void): void {
    for (const e of entries) {
      this.applied = e.index;
      if (e.type !== EntryType.Command || !e.data) continue;
      const b = decodeBatch(e.data);
      if (!b) continue;
      this.commands += b.commands.length;
      const results = this.#sessions.apply(b, e.index, (command, offset) => {
        try {
          return this.sm.apply(command, { index: e.index, term: e.term, offset });
        } catch (err) {
          return { error: String((err as Error)?.message ?? err) };
        }
      });
      done(b, e.index, results);
    }
  }

  /** Serializes the state machine and sessions at the applied index. */
  snapshot(): Uint8Array {
    const data: SnapshotData = {
      sm: this.sm.snapshot(),
      sessions: this.#sessions.records(),
      commands: this.commands,
    };
    return encode(data);
  }

  /** Replaces the state with a snapshot's. */
  restore(snap: Snapshot): void {
    const { sm, sessions, commands } = decode<SnapshotData>(snap.data);
    this.sm.restore(sm);
    this.commands = commands ?? 0;
    this.#sessions.restore(sessions);
    this.applied = snap.index;
  }

  /** Back to the state machine's initial state, nothing applied. */
  reset(): void {
    this.sm.restore(decode(this.#initial));
    this.#sessions.restore([]);
    this.applied = 0;
    this.commands = 0;
  }
}
