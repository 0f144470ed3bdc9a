// The CLI as `deno task build` bundles it, copied into a fresh folder outside
// the repository, run as on a host: no repository, no deno.json.
const root = new URL("..", import.meta.url).pathname;
let built: Promise<void> | undefined;

/** Builds once per test process; returns a fresh folder holding `mosaik.js`. */
export async function bundledCli(): Promise<string> {
  built ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "build"],
      cwd: root,
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`deno task build: ${new TextDecoder().decode(out.stderr)}`);
  })();
  await built;
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${root}dist/mosaik.js`, `${dir}/mosaik.js`);
  return dir;
}

/** `deno run` arguments that start the bundled CLI in `dir` with `allowNet`. */
export function runBundled(dir: string, allowNet: string): string[] {
  return [
    "run",
    ...["--no-config", "--unstable-net", "--no-code-cache", "--v8-flags=--max-semi-space-size=4"],
    ...[`--allow-net=${allowNet}`, "--allow-read", "--allow-write", "--allow-env"],
    `${dir}/mosaik.js`,
  ];
}
