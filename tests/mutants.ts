// Mutation testing of @mosaik/groups' consensus core:
//   deno task mutants [--seeds=40] [--faults=harsh] [--only=name,name] [--timeout=300]
//                     [--skip-baseline]
// Each planted bug of tests/_mutants.ts is applied to a temporary copy of the
// repository (the worktree is never touched), the copy must still type-check,
// then the groups unit tests and `--seeds` nightly seeds run against it. A
// mutant is caught when a test fails or the checker finds an anomaly (a run
// past `--timeout` seconds counts as caught: it hung). Prints a table and
// exits non-zero when a mutant survives, when the unmutated copy is not clean,
// or (before running anything) when a snippet no longer matches its file.
import { type Mutant, MUTANTS } from "./_mutants.ts";

const root = new URL("..", import.meta.url).pathname;
const flag = (name: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seeds = Number(flag("seeds") ?? 40);
const faults = flag("faults") ?? "harsh";
const timeout = Number(flag("timeout") ?? 300) * 1000;
const only = flag("only")?.split(",");
const mutants = MUTANTS.filter((m) => !only || only.includes(m.name));

/** Files of the repository as they are in the worktree (tracked and new, not ignored). */
async function repositoryFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-co", "--exclude-standard", "-z"],
    cwd: root,
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\0").filter(Boolean);
}

/** The mutated text of every file a mutant edits; throws when a snippet does not match once. */
function mutate(m: Mutant, read: (file: string) => string): Map<string, string> {
  const texts = new Map<string, string>();
  for (const e of m.edits) {
    const text = texts.get(e.file) ?? read(e.file);
    const count = text.split(e.original).length - 1;
    if (count !== 1) {
      throw new Error(
        `mutant ${m.name}: the snippet occurs ${count} times in ${e.file} (must be once):\n${e.original}`,
      );
    }
    texts.set(e.file, text.replace(e.original, () => e.replacement));
  }
  return texts;
}

interface Outcome {
  code: number;
  output: string;
  timedOut: boolean;
}

async function run(cwd: string, args: string[]): Promise<Outcome> {
  const signal = AbortSignal.timeout(timeout);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    signal,
    env: { NO_COLOR: "1" },
  }).spawn();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, output: text, timedOut: signal.aborted };
}

const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env"];

interface Row {
  name: string;
  description: string;
  unit: string;
  nightly: string;
  caught: boolean;
}

/** Runs the checks against a copy with `texts` written over it. */
async function judge(name: string, description: string, texts: Map<string, string>): Promise<Row> {
  const dir = await Deno.makeTempDir({ prefix: "mosaik-mutant-" });
  try {
    for (const file of await repositoryFiles()) {
      const target = `${dir}/${file}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      const text = texts.get(file);
      if (text !== undefined) await Deno.writeTextFile(target, text);
      else await Deno.copyFile(`${root}${file}`, target);
    }
    const lock = "--lock=tests/deno.lock";
    const check = await run(dir, ["check", lock, "groups/mod.ts", "groups/testing.ts"]);
    if (check.code !== 0) {
      throw new Error(`${name}: the mutated copy does not type-check:\n${check.output}`);
    }
    const unit = await run(dir, ["test", lock, ...PERMISSIONS, "groups/"]);
    const failed = unit.output.match(/(\d+) passed[^\n]*?(\d+) failed/);
    const unitText = unit.timedOut
      ? "hung (timeout)"
      : failed
      ? `${failed[2]} of ${Number(failed[1]) + Number(failed[2])} failed`
      : `exit ${unit.code}`;
    const nightly = await run(dir, [
      "run",
      lock,
      ...PERMISSIONS,
      "tests/groups_nightly.ts",
      String(seeds),
      "1",
      `--faults=${faults}`,
    ]);
    const anomalies = nightly.output.match(/(\d+) with anomalies/);
    const nightlyText = nightly.timedOut
      ? "hung (timeout)"
      : anomalies
      ? `${anomalies[1]} of ${seeds} seeds`
      : `crashed (exit ${nightly.code})`;
    return {
      name,
      description,
      unit: unitText,
      nightly: nightlyText,
      caught: unit.code !== 0 || nightly.code !== 0,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Every snippet must match before anything runs.
const planned = mutants.map((m) => ({
  m,
  texts: mutate(m, (file) => Deno.readTextFileSync(`${root}${file}`)),
}));
const t0 = performance.now();
if (!Deno.args.includes("--skip-baseline")) {
  const baseline = await judge("(none)", "the unmutated code", new Map());
  console.log(`baseline: unit tests ${baseline.unit}, nightly ${baseline.nightly}`);
  if (baseline.caught) {
    console.log("the unmutated code is not clean: mutants would be caught for nothing");
    Deno.exit(2);
  }
}
const rows: Row[] = [];
for (const { m, texts } of planned) {
  const row = await judge(m.name, m.description, texts);
  rows.push(row);
  console.log(
    `${row.caught ? "caught  " : "SURVIVED"} ${m.name}: unit ${row.unit}; nightly ${row.nightly}`,
  );
}
const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `\n| ${pad("mutant", 26)} | ${pad("unit tests (groups/)", 22)} | ${
    pad(`nightly (${faults})`, 18)
  } | verdict  |`,
);
console.log(`|${"-".repeat(28)}|${"-".repeat(24)}|${"-".repeat(20)}|----------|`);
for (const r of rows) {
  console.log(
    `| ${pad(r.name, 26)} | ${pad(r.unit, 22)} | ${pad(r.nightly, 18)} | ${
      r.caught ? "caught  " : "SURVIVED"
    } |`,
  );
}
const survivors = rows.filter((r) => !r.caught);
console.log(
  `\n${
    rows.length - survivors.length
  } of ${rows.length} mutants caught (${seeds} nightly seeds each), ${
    Math.round((performance.now() - t0) / 1000)
  } s`,
);
if (survivors.length) Deno.exit(1);
