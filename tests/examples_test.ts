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

/** Starts an example in the background; `line` resolves with the first stdout line matching. */
function spawnExample(name: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--lock=deno.lock",
      "--allow-net=127.0.0.1,[::1],localhost",
      "--allow-env",
      new URL(`../examples/${name}`, import.meta.url).pathname,
      ...args,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const done = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const w of [...waiters]) {
        const m = text.match(w.re);
        if (m) waiters.splice(waiters.indexOf(w), 1), w.resolve(m);
      }
    }
    return text;
  })();
  const stderr = new Response(child.stderr).text();
  return {
    child,
    line: (re: RegExp) =>
      new Promise<RegExpMatchArray>((resolve) => {
        const m = text.match(re);
        if (m) resolve(m);
        else waiters.push({ re, resolve });
      }),
    finished: async () => {
      const [status, out, err] = await Promise.all([child.status, done, stderr]);
      return { status, out, err };
    },
  };
}

Deno.test("examples/hello.ts: two nodes greet each other", async () => {
  const a = spawnExample("hello.ts", "--local", "--count", "2");
  a.child.stdin.close();
  const [, address] = await a.line(/I am (\S+)/);
  const b = spawnExample("hello.ts", "--local", "--bootstrap", address, "--count", "2");
  b.child.stdin.close();
  const [, bAddress] = await b.line(/I am (\S+)/);
  for (const [node, other] of [[a, bAddress], [b, address]] as const) {
    const { status, out, err } = await node.finished();
    assert.equal(status.code, 0, out + err);
    assert.equal(out.match(/got "hello from/g)?.length, 2, out);
    assert.match(out, new RegExp(`got "hello from ${other.slice(0, 8)}"`), "the other's greeting");
  }
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
