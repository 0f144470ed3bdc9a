/**
 * `@mosaik/groups`: Raft consensus groups with replicated state machines.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@mosaik/groups";
 * const storage = new MemoryStorage();
 * storage.setHardState({ term: 1 });
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./file_storage.ts";
export * from "./state_machine.ts";
export * from "./storage.ts";
export * from "./config.ts";
export * from "./group.ts";
export * from "./groups.ts";
export type { Digest, GroupId, PeerId } from "@mosaik/transport";
