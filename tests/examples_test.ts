// The examples are documentation: run each one as a user would, with
// loopback-only permissions, so they never rot.
import assert from "node:assert/strict";

async function runExample(name: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--lock=deno.lock",
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      new URL(`../examples/${name}`, import.meta.url).pathname,
      ...args,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, text + new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test("examples/hello.ts: two nodes greet each other", async () => {
  assert.match(await runExample("hello.ts"), /bob got "hello/);
});

Deno.test("examples/tour.ts: the one-page API tour runs as written", async () => {
  const out = await runExample("tour.ts");
  assert.match(out, /replica reads alice = 100/);
  assert.match(out, /strong read 5/);
});

Deno.test("mosaik demo: the README demo runs to the end", async () => {
  const out = await runExample("../network/cli.ts", "demo");
  assert.match(out, /discovery converged/);
  assert.match(out, /every consumer received all 1000 datums/);
  assert.match(out, /took over in/);
  assert.match(out, /all nodes closed/);
});
