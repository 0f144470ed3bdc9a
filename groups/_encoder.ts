// Encoding of bond messages on the sending side. A leader sends the same
// AppendEntries (same entries, same indexes, same commit) to every follower
// that is caught up: it is encoded once per burst and its bytes are shared,
// instead of copying the entries into a new frame for each follower.
import { encode } from "@mosaik/transport";
import type { Envelope, MessageOf } from "./_messages.ts";
import type { ReplicaMessage } from "./_replica_types.ts";

type Append = MessageOf<"App"> & Envelope;

/** See the file comment. */
export class BondEncoder {
  #last: { msg: Append; bytes: Uint8Array } | undefined;

  /** The frame of `msg`. */
  encode(msg: ReplicaMessage): Uint8Array {
    if (msg.type !== "App") return encode(msg);
    const last = this.#last;
    if (last && sameAppend(last.msg, msg)) return last.bytes;
    // The bytes are kept only for the burst of sends they were encoded in.
    if (!last) queueMicrotask(() => this.#last = undefined);
    const bytes = encode(msg);
    this.#last = { msg, bytes };
    return bytes;
  }
}

function sameAppend(a: Append, b: Append): boolean {
  return a.term === b.term && a.prevIndex === b.prevIndex && a.prevTerm === b.prevTerm &&
    a.commit === b.commit && a.cluster === b.cluster && a.epoch === b.epoch &&
    a.entries.length === b.entries.length && a.entries.every((e, i) => e === b.entries[i]);
}
