// Lean installs: `deno task` installs every npm package of the import map and
// of the lockfile it reads before running anything, so test- and bench-only
// packages stay out of both. They are imported by full `npm:` specifier in the
// test and bench files and locked in tests/deno.lock; deno.lock (read by the
// demo, the examples and the CLI) holds only what the packages themselves use.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));
const config = JSON.parse(read("deno.json"));
const imports: Record<string, string> = config.imports;
const packageDirs: string[] = config.workspace.map((w: string) => w.replace(/^\.\//, ""));

/** Source files under `dir` (relative to the repository root), recursively. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, root))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "testdata") out.push(...sources(path));
    else if (entry.isFile && /\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** Whether `path` is left out of its package's publish by `publish.exclude`. */
function unpublished(dir: string, path: string): boolean {
  const rel = path.slice(dir.length + 1);
  const patterns: string[] = JSON.parse(read(`${dir}/deno.json`)).publish?.exclude ?? [];
  return patterns.some((p) =>
    p.startsWith("**/*")
      ? rel.endsWith(p.slice(4))
      : p.endsWith("/")
      ? rel.startsWith(p)
      : rel === p
  );
}

const published = packageDirs.flatMap((dir) =>
  sources(dir).filter((path) => !unpublished(dir, path))
);
const everything = [...packageDirs, "tests", "bench", "examples"].flatMap(sources)
  .filter((p) => p !== "tests/dependencies_test.ts");

Deno.test("every import-map package is used by a published module", () => {
  const used = published.map(read).join("\n");
  for (const key of Object.keys(imports)) {
    assert.ok(used.includes(`"${key}`), `${key} is in deno.json but no package module imports it`);
  }
});

Deno.test("test and bench packages are pinned once, by exact version, outside the import map", () => {
  const versions = new Map<string, Set<string>>();
  for (const path of everything) {
    for (const [, name, version] of read(path).matchAll(/"npm:(@?[^@"]+)@([^/"]*)[/"]/g)) {
      assert.match(version, /^\d+\.\d+\.\d+$/, `${path}: npm:${name}@${version} is not exact`);
      if (!versions.has(name)) versions.set(name, new Set());
      versions.get(name)!.add(version);
      assert.ok(!(name in imports), `${path}: ${name} is also in the import map`);
    }
  }
  for (const [name, set] of versions) {
    assert.equal(set.size, 1, `npm:${name} is pinned to ${[...set].join(" and ")}`);
    assert.ok(!published.some((p) => read(p).includes(`"npm:${name}@`)), `${name} in a package`);
  }
});

Deno.test("deno.lock holds only the packages' own dependencies", () => {
  const lock = JSON.parse(read("deno.lock"));
  // name@version of each import (a subpath such as msgpack's ESM build left out)
  const mapped = new Set(
    Object.values(imports).map((v) =>
      v.replace(/^npm:\/?/, "").replace(/^((?:@[^/]+\/)?[^/@]+@[^/]+)\/.+$/, "$1")
    ),
  );
  for (const specifier of Object.keys(lock.specifiers ?? {})) {
    const name = specifier.replace(/^npm:/, "");
    assert.ok(mapped.has(name) || mapped.has(name + "/"), `deno.lock locks ${specifier}`);
  }
});

/** The specifiers of `path`'s module graph (dynamic imports included) that start with `prefix`. */
async function graph(path: string, prefix: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: root,
    stdout: "piped",
  }).output();
  assert.ok(out.success, `deno info ${path} failed`);
  const modules: { specifier: string }[] = JSON.parse(new TextDecoder().decode(out.stdout)).modules;
  return modules.map((m) => m.specifier).filter((s) => s.startsWith(prefix)).sort();
}

// Each Node built-in and npm package a node loads costs its RSS (node:zlib
// about 0.8 MiB, @noble/hashes' BLAKE3 about 0.5 MiB): node:crypto is the one
// sync Ed25519, msgpack the codec.
Deno.test("a node loads no Node built-in but node:crypto and node:buffer", async () => {
  assert.deepEqual(await graph("network/mod.ts", "node:"), ["node:buffer", "node:crypto"]);
});

Deno.test("transport loads no npm package but msgpack", async () => {
  const msgpack = imports["@msgpack/msgpack"].replace(/^npm:/, "npm:/");
  assert.deepEqual(await graph("transport/mod.ts", "npm:"), [msgpack]);
});
