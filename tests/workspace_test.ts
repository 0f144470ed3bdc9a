// The workspace as a whole: one name means one thing across every package,
// and library files stay small enough to hold one concept each.
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;
const entryPoints = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks.check
  .match(/deno doc --lint ([^&]*)/)[1].trim().split(" ") as string[];

interface DocSymbol {
  name: string;
  declarations: { location: { filename: string; line: number } }[];
}

/** Where each exported symbol of `entryPoint` is declared. */
async function declarations(entryPoint: string): Promise<[string, string[]][]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entryPoint],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: DocSymbol[] }>;
  };
  return Object.values(doc.nodes).flatMap(({ symbols }) =>
    symbols.map((s): [string, string[]] => [
      s.name,
      s.declarations.map((d) =>
        `${d.location.filename.replace(`file://${root}`, "")}:${d.location.line}`
      ),
    ])
  );
}

Deno.test("workspace: an exported name means one thing in every package", async () => {
  const declaredAt = new Map<string, Set<string>>();
  for (const entryPoint of entryPoints) {
    for (const [name, at] of await declarations(entryPoint)) {
      const seen = declaredAt.get(name) ?? new Set();
      seen.add(at.sort().join(" + "));
      declaredAt.set(name, seen);
    }
  }
  const clashes = [...declaredAt].filter(([, at]) => at.size > 1)
    .map(([name, at]) => `${name}: ${[...at].join(", ")}`);
  assert.deepEqual(clashes, [], "rename so that each name is declared once");
});

const MAX_LINES = 450;

/** The library's `.ts` files under `dir`: no tests, benchmarks, examples or hidden folders. */
async function* libraryFiles(dir = ""): AsyncGenerator<string> {
  for await (const e of Deno.readDir(root + dir)) {
    const path = dir + e.name;
    if (e.isDirectory) {
      if (!/^(\.|node_modules$|tests$|bench$|examples$)/.test(e.name)) {
        yield* libraryFiles(path + "/");
      }
    } else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) {
      yield path;
    }
  }
}

// A walk of the folder, not `git ls-files`: CI runs the suite from a copy
// without `.git`, where a git listing is empty and the test passed unseen.
Deno.test("workspace: library files stay under 450 lines", async () => {
  const large: string[] = [];
  let files = 0;
  for await (const file of libraryFiles()) {
    files++;
    const lines = (await Deno.readTextFile(root + file)).split("\n").length;
    if (lines > MAX_LINES) large.push(`${file} (${lines} lines)`);
  }
  assert.ok(files > 50, `only ${files} library files found under ${root}`);
  assert.deepEqual(large, [], "split these along their seams");
});
