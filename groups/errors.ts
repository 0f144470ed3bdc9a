/**
 * Typed errors of `@mosaik/groups`. Timeouts use `TimeoutError` and closed
 * groups a subclass of `ClosedError`, both from `@mosaik/transport`
 * (re-exported here).
 *
 * @module
 */
import { ClosedError, MosaikError, TimeoutError } from "@mosaik/transport";

export { ClosedError, MosaikError, TimeoutError };

/** Base class of the errors raised by groups. */
export class GroupError extends MosaikError {}

/**
 * No leader could be reached before the request's time limit; the command
 * was not applied by this request.
 */
export class GroupOfflineError extends GroupError {}

/** The group (or the handle) was closed; the request's outcome is unknown. */
export class GroupClosedError extends ClosedError {}

/**
 * The options of `groups.join` cannot work as given, for example a voter
 * without `bootstrapExpect`: the message names the option to set.
 */
export class GroupConfigError extends GroupError {}

/** The local node is not (or no longer) a member of the group's configuration. */
export class NotMemberError extends GroupError {}
