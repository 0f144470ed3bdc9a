/**
 * Memory benchmarks: RSS of an idle node process and what each extra node,
 * connection, subscription and group member costs, every scenario in a fresh
 * process. Each figure is printed next to its anchor measured in the same run
 * (a bare Deno process, a bare endpoint, a raw QUIC connection).
 *
 * Run alone: `deno run -A bench/memory.ts`
 *
 * @module
 */
import { NODE_V8_FLAG } from "../tests/hosts/process.ts";
import { report } from "./_report.ts";

const CHILD = new URL("./_memory_child.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const MiB = 2 ** 20;

interface Measured {
  before: number;
  after: number;
  count: number;
}

async function measure(scenario: string): Promise<Measured> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--v8-flags=--expose-gc,${NODE_V8_FLAG}`, // as the README runs a node
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      "--allow-read",
      CHILD,
      scenario,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`memory scenario ${scenario} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

/** RSS of a Deno process that loads nothing, after the same settling as the scenarios. */
async function bareProcess(): Promise<number> {
  const code = "await new Promise((r) => setTimeout(r, 600)); gc(); " +
    "console.log(Deno.memoryUsage().rss)";
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", code],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** MiB per thing made by the scenario. */
async function each(scenario: string): Promise<number> {
  const m = await measure(scenario);
  return (m.after - m.before) / m.count / MiB;
}

/** Runs the memory benchmarks and prints one line per figure. */
export async function run(): Promise<void> {
  const bare = await bareProcess() / MiB;
  const idle = (await measure("idle")).after / MiB;
  report("memory: idle node process (vs bare Deno)", idle, bare, "MiB", { max: 60 });
  const endpoint = await each("endpoints");
  report("memory: per extra in-process node (vs endpoint)", await each("nodes"), endpoint, "MiB", {
    max: 2,
  });
  const quic = await each("quic");
  report("memory: per connection (vs raw QUIC)", await each("connections"), quic, "MiB");
  report("memory: per subscription (vs raw QUIC conn)", await each("subscriptions"), quic, "MiB");
  report("memory: per group member (vs raw QUIC conn)", await each("members"), quic, "MiB");
}

if (import.meta.main) await run();
