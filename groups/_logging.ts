// The logger of the groups package.
import { logger } from "@mosaik/transport";

/** Logs of `@mosaik/groups` (`MOSAIK_LOG=groups:debug`). */
export const groupsLog = logger("groups");
