/**
 * Memory benchmarks: RSS of an idle node process and what each extra node,
 * connection, subscription and group member costs, every scenario in a fresh
 * process. Each figure is printed next to its anchor measured in the same run
 * (a bare Deno process, a bare endpoint, a raw QUIC connection).
 *
 * The scenarios run as a node runs on a host (README, "Running a node"): one
 * bundled file, `--no-code-cache`, no deno.json. The idle node is also
 * measured from the TypeScript sources, for comparison.
 *
 * Run alone: `deno run -A bench/memory.ts`
 *
 * @module
 */
import { NODE_V8_FLAG } from "../tests/hosts/process.ts";
import { figure, percentile, report } from "./_report.ts";

const CHILD = new URL("./_memory_child.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const MiB = 2 ** 20;

interface Measured {
  before: number;
  after: number;
  count: number;
}

/** The child in one file, bundled and cached as a host installs the CLI. */
async function bundle(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/memory_child.js`;
  for (
    const args of [
      ["bundle", "--quiet", "--lock=deno.lock", CHILD, "-o", file],
      ["cache", "--quiet", "--no-config", file],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT }).output();
    if (!out.success) throw new Error(`deno ${args[0]} of the memory child failed`);
  }
  return file;
}

/** Runs one scenario from the bundle (as on a host) or, given `sources`, from the sources. */
async function measure(scenario: string, child: string, sources = false): Promise<Measured> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(sources ? [] : ["--no-config", "--unstable-net", "--no-code-cache"]),
      `--v8-flags=--expose-gc,${NODE_V8_FLAG}`, // as the README runs a node
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      "--allow-read",
      sources ? CHILD : child,
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

/** Runs the memory benchmarks and prints one line per figure. */
export async function run(): Promise<void> {
  const child = await bundle();
  /** MiB per thing made by the scenario. */
  const each = async (scenario: string) => {
    const m = await measure(scenario, child);
    return (m.after - m.before) / m.count / MiB;
  };
  const bare = await bareProcess() / MiB;
  const idle = (await measure("idle", child)).after / MiB;
  report("memory: idle node process (vs bare Deno)", idle, bare, "MiB", { max: 60 });
  const fromSources = (await measure("idle", child, true)).after / MiB;
  report("memory: idle node process from the sources (vs bare Deno)", fromSources, bare, "MiB");
  const endpoint = await each("endpoints");
  // One run of 20 nodes joining a running network through one contact
  // varies by ±10 % (how many connections the joins happen to open): the
  // median of three.
  const nodes: number[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await each("nodes"));
  const median = percentile(nodes, 50);
  report("memory: per extra in-process node (vs endpoint)", median, endpoint, "MiB", { max: 2 });
  figure(
    "  spread of the 3 runs (max - min)",
    Math.max(...nodes) - Math.min(...nodes),
    "MiB",
    `runs ${nodes.map((n) => n.toFixed(2)).join(", ")}; the figure above is their median`,
  );
  const quic = await each("quic");
  report("memory: per connection (vs raw QUIC)", await each("connections"), quic, "MiB");
  report("memory: per subscription (vs raw QUIC conn)", await each("subscriptions"), quic, "MiB");
  report("memory: per group member (vs raw QUIC conn)", await each("members"), quic, "MiB");
  await Deno.remove(child.slice(0, child.lastIndexOf("/")), { recursive: true });
}

if (import.meta.main) await run();
