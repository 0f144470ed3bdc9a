/**
 * The `mosaik` command line.
 *
 * ```sh
 * deno task mosaik <command> ...        # from a clone of the repository
 * deno install -g -n mosaik --v8-flags=--max-semi-space-size=4 --allow-net --allow-read \
 *   --allow-write --allow-env --allow-sys=networkInterfaces --unstable-net jsr:@mosaik/network/cli
 * mosaik beacon --network my-app --listen 0.0.0.0:4433
 * mosaik inspect http://127.0.0.1:9464
 * mosaik dht resolve my-app <PeerId>
 * mosaik demo
 * ```
 *
 * `mosaik <command> --help` prints a command's options. A wrong command line
 * prints the usage and exits with status 2; a failure prints one line and
 * exits with status 1.
 *
 * @module
 */
import { type Command, complain, parse, say, UsageError } from "./_cli_args.ts";
import { beacon } from "./_cli_beacon.ts";
import { dht } from "./_cli_dht.ts";
import { inspect } from "./_cli_inspect.ts";
import { runDemo } from "./_demo.ts";

const demo: Command = {
  summary: "run a local swarm of 8 nodes on loopback, step by step",
  usage: `usage: mosaik demo [nodes]

Starts a swarm on loopback (at least 5 nodes, default 8) and walks through
discovery, streams, a Raft group, a replicated map, a leader crash and a
graceful departure.`,
  async run(args) {
    const { values, positionals } = parse(args, { help: { type: "boolean", short: "h" } });
    if (values.help) return say(demo.usage), 0;
    const size = Number(positionals[0] ?? 8);
    if (!Number.isInteger(size) || size < 5 || positionals.length > 1) {
      throw new UsageError(`expected a number of nodes of 5 or more`);
    }
    await runDemo(size);
    return 0;
  },
};

const COMMANDS: Record<string, Command> = { beacon, inspect, dht, demo };

const usage = `usage: mosaik <command> [options]

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`).join("\n")}

Run \`mosaik <command> --help\` for a command's options.`;

/**
 * Runs the CLI with `args` (without the program name) and resolves to the
 * exit status: 0 done, 1 failed, 2 wrong command line.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "-h" || name === "--help" || name === "help") return say(usage), 0;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    complain(name === undefined ? usage : `mosaik: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      complain(`mosaik ${name}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    complain(`mosaik ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
