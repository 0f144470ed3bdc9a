// The examples' command lines: node:util's parseArgs, except that a wrong
// command line prints what was wrong and the usage, and exits 2 (no stack trace).
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Parses `Deno.args` by `config`; on a bad command line prints `usage` and exits 2. */
export function commandLine<T extends ParseArgsConfig>(
  config: T,
  usage: string,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: ${usage}`);
    Deno.exit(2);
  }
}
