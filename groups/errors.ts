/**
 * Typed errors of `@mosaik/groups`. Timeouts use `TimeoutError` from
 * `@mosaik/transport` (re-exported here).
 *
 * @module
 */
import { MosaikError, TimeoutError } from "@mosaik/transport";

export { MosaikError, TimeoutError };

/** Base class of the errors raised by groups. */
export class GroupError extends MosaikError {}

/**
 * No leader could be reached (or the group was closed) before the request's
 * time limit; the command was not applied by this request.
 */
export class OfflineError extends GroupError {}

/** The local node is not (or no longer) a member of the group's configuration. */
export class NotMemberError extends GroupError {}
