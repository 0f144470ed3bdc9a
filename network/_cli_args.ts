// Argument parsing shared by the `mosaik` subcommands: node:util's parseArgs
// in strict mode, with its errors turned into UsageError so that a bad flag
// prints the command's usage and exits 2 instead of a stack trace.
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The command line was wrong; the CLI prints the message and the usage, exits 2. */
export class UsageError extends Error {}

/** A subcommand of the `mosaik` CLI. */
export interface Command {
  /** One line for the overview. */
  readonly summary: string;
  /** Full usage text. */
  readonly usage: string;
  /** Runs it; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs (strict, positionals allowed, `--no-<flag>` negates) with UsageError. */
export function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function writeLine(to: typeof Deno.stdout, line: string): void {
  const bytes = new TextEncoder().encode(line + "\n");
  for (let at = 0; at < bytes.length;) at += to.writeSync(bytes.subarray(at));
}

/** Writes a line to stdout. */
export function say(line = ""): void {
  writeLine(Deno.stdout, line);
}

/** Writes a line to stderr. */
export function complain(line: string): void {
  writeLine(Deno.stderr, line);
}
