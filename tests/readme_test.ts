// The README's one-page API runs as written.
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("README: the API in one page runs as written", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const section = readme.slice(readme.indexOf("## The API in one page"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1];
  const file = await Deno.makeTempFile({ dir: `${root}tests`, prefix: "_readme_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--lock=deno.lock",
        "--allow-net=127.0.0.1,[::1],localhost",
        "--allow-env",
        file,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
    assert.deepEqual(stdout.trim().split("\n"), ['{ sym: "ETH", px: 3000 }', "5", "100"]);
  } finally {
    await Deno.remove(file);
  }
});
