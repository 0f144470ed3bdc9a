/**
 * The logger of the discovery package.
 *
 * @module
 */
import { logger } from "@mosaik/transport";

/** Logs of `@mosaik/discovery` (`MOSAIK_LOG=discovery:debug`). */
export const discoveryLog = logger("discovery");
