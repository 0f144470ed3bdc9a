// The examples are documentation: run each one as a user would, with
// loopback-only permissions, so they never rot. Every run is bounded: an
// example that hangs is killed and fails its test instead of stalling CI.
import assert from "node:assert/strict";
import { within } from "@mosaik/transport/testing";

/**
 * Starts an example; `line` resolves with the first stdout match, `type`
 * writes a line to its stdin, `finished` resolves with its end.
 */
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
  let errText = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) errText += chunk;
    return errText;
  })();
  const stdin = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const finished = async () => {
    const [status, out, err] = await Promise.all([child.status, done, stderr]);
    return { status, out, err };
  };
  /** `within`, and when it times out, what the example printed so far. */
  const bounded = <T>(promise: Promise<T>, ms: number, what: string) =>
    within(promise, ms, what).catch((error) => {
      const tail = (t: string) => t.slice(-3000);
      throw new Error(
        `${error.message}\n--- stdout:\n${tail(text)}\n--- stderr:\n${tail(errText)}`,
      );
    });
  return {
    child,
    output: () => text,
    type: (line: string) => stdin.write(encoder.encode(line + "\n")),
    line: (re: RegExp, timeout = 30_000) =>
      bounded(
        new Promise<RegExpMatchArray>((resolve) => {
          const m = text.match(re);
          if (m) resolve(m);
          else waiters.push({ re, resolve });
        }),
        timeout,
        `${name} printing ${re}`,
      ),
    finished: (timeout = 60_000) => bounded(finished(), timeout, `${name} to exit`),
    /** Kills the process if it still runs and waits for its pipes to close. */
    async [Symbol.asyncDispose]() {
      await stdin.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await finished();
    },
  };
}

/** Runs an example to its end (bounded) and returns its stdout. */
async function runExample(name: string, ...args: string[]): Promise<string> {
  await using run = spawnExample(name, ...args);
  const { status, out, err } = await run.finished(120_000);
  assert.ok(status.success, out + err);
  return out;
}

Deno.test("examples/hello.ts: two nodes greet each other and stop on Ctrl-C", async () => {
  await using a = spawnExample("hello.ts", "--local");
  const [, address] = await a.line(/I am (\S+)/);
  await using b = spawnExample("hello.ts", "--local", "--bootstrap", address);
  const [, bAddress] = await b.line(/I am (\S+)/);
  await a.line(new RegExp(`got "hello from ${bAddress.slice(0, 8)}"`));
  await b.line(new RegExp(`got "hello from ${address.slice(0, 8)}"`));
  for (const node of [a, b]) {
    node.child.kill("SIGINT");
    const { status, out, err } = await node.finished();
    assert.equal(status.code, 0, out + err);
    assert.match(out, /hello: bye/);
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

Deno.test("examples/chat.ts: three members hear each other; one leaves and the others see it", async () => {
  await using a = spawnExample("chat.ts", "--local", "--name", "ann");
  const [, address] = await a.line(/I am (\S+)/);
  await using b = spawnExample("chat.ts", "--local", "--name", "bob", "--bootstrap", address);
  await using c = spawnExample("chat.ts", "--local", "--name", "cy", "--bootstrap", address);
  const members = [a, b, c];
  const ids = await Promise.all(members.map(async (m) => (await m.line(/I am (\S{8})/))[1]));
  // "joined" means the other member subscribed to our messages: everyone hears everyone.
  for (const [i, member] of members.entries()) {
    for (const [j, id] of ids.entries()) if (i !== j) await member.line(new RegExp(`${id} joined`));
  }
  const names = ["ann", "bob", "cy"];
  for (const [i, member] of members.entries()) await member.type(`hi from ${names[i]}`);
  for (const [i, member] of members.entries()) {
    for (const [j, name] of names.entries()) {
      if (i !== j) await member.line(new RegExp(`\\[${name}\\] hi from ${name}`));
    }
  }
  c.child.kill("SIGINT");
  const { status, out, err } = await c.finished();
  assert.equal(status.code, 0, out + err);
  assert.match(out, /chat: bye/);
  await a.line(/chat: cy left/);
  await b.line(/chat: cy left/);
  for (const member of [a, b]) {
    member.child.kill("SIGINT");
    assert.equal((await member.finished()).status.code, 0);
  }
});

Deno.test("examples/ratelimiter.ts: three nodes hammering two buckets never exceed the limit together", async () => {
  const [rate, burst] = [3, 2]; // low enough that even a loaded machine asks for more
  const limits = ["--rate", `${rate}`, "--burst", `${burst}`, "--nodes", "3"];
  const buckets = ["--bucket", "api", "--bucket", "search"];
  await using a = spawnExample("ratelimiter.ts", "--local", ...limits, ...buckets);
  const [, address] = await a.line(/I am (\S+)/);
  const others = [1, 2].map(() =>
    spawnExample("ratelimiter.ts", "--local", "--bootstrap", address, ...limits, ...buckets)
  );
  await using b = others[0];
  await using c = others[1];
  // Every node online and hammering for three seconds (a status line per second).
  for (const node of [a, b, c]) await node.line(/(ratelimiter: granted .*\n){3}/, 60_000);
  const grants: Record<string, number[]> = { api: [], search: [] };
  for (const node of [a, b, c]) node.child.kill("SIGINT");
  let denied = 0;
  for (const node of [a, b, c]) {
    const { status, out, err } = await node.finished();
    assert.equal(status.code, 0, out + err);
    denied += +[...out.matchAll(/denied (\d+)/g)].at(-1)![1];
    const mine = JSON.parse(out.match(/grants (.*)/)![1]) as Record<string, number[]>;
    for (const bucket in grants) grants[bucket].push(...mine[bucket]);
  }
  assert.ok(denied > 0, "the nodes asked for more than the limit");
  // A token bucket's promise: over [t_i, t_j], at most burst + rate × (t_j − t_i) grants.
  for (const [bucket, times] of Object.entries(grants)) {
    times.sort((x, y) => x - y);
    const span = times.at(-1)! - times[0];
    assert.ok(times.length > burst, `${bucket}: only ${times.length} grants`);
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        const allowed = burst + (rate * (times[j] - times[i])) / 1000;
        assert.ok(
          j - i + 1 <= allowed,
          `${bucket}: ${j - i + 1} grants in ${times[j] - times[i]} ms`,
        );
      }
    }
    console.log(`${bucket}: ${times.length} grants in ${span} ms (limit ${burst} + ${rate}/s)`);
  }
});

Deno.test("examples/orderbook.ts: the engine's leader is killed mid-way and no acknowledged order is lost or doubled", async () => {
  await using a = spawnExample("orderbook.ts", "engine", "--local");
  const [, address] = await a.line(/I am (\S+)/);
  await using b = spawnExample("orderbook.ts", "engine", "--local", "--bootstrap", address);
  await using c = spawnExample("orderbook.ts", "engine", "--local", "--bootstrap", address);
  const engines = [a, b, c];
  await Promise.race(engines.map((e) => e.line(/leading in term/)));
  const count = 400;
  // An impatient trader: orders still in flight are resent too, so duplicates do reach the book.
  const orders = ["--orders", `${count}`, "--every", "10", "--timeout", "100"];
  const traderArgs = ["trader", "--local", "--bootstrap", address, ...orders];
  await using trader = spawnExample("orderbook.ts", ...traderArgs);
  await trader.line(/acknowledged 100\//);
  // The leader is the engine that announced the highest term.
  const term = (e: typeof a) =>
    Math.max(...[...e.output().matchAll(/leading in term (\d+)/g)].map((m) => +m[1]));
  const leader = engines.reduce((x, y) => (term(y) > term(x) ? y : x));
  const termBefore = term(leader);
  leader.child.kill("SIGKILL");
  const survivors = engines.filter((e) => e !== leader);
  const done = await trader.finished(120_000);
  assert.equal(done.status.code, 0, done.out + done.err);
  const acknowledged: string[] = JSON.parse(done.out.match(/acknowledged (\[.*\])/)![1]);
  assert.equal(new Set(acknowledged).size, count);
  const resent = +done.out.match(/resent (\d+) orders/)![1];
  assert.ok(resent > 0, "orders sent during the failover were resent");
  assert.ok(survivors.some((e) => term(e) > termBefore), "a survivor took over");

  for (const engine of survivors) engine.child.kill("SIGINT");
  const books = await Promise.all(survivors.map(async (engine) => {
    const { status, out, err } = await engine.finished();
    assert.equal(status.code, 0, out + err);
    const book = out.match(/engine: book (.*)/);
    assert.ok(book, out + err);
    return JSON.parse(book[1]);
  }));
  assert.deepEqual(books[0], books[1]);
  const { orders: applied, bids, asks, fills } = books[0] as {
    orders: { id: string; qty: number }[];
    bids: { id: string; qty: number }[];
    asks: { id: string; qty: number }[];
    fills: { taker: string; maker: string; qty: number }[];
  };
  // Exactly once: every acknowledged order was applied once, nothing else was.
  assert.deepEqual(applied.map((o) => o.id).sort(), [...acknowledged].sort());
  // And matched once: each order's quantity is what it traded plus what rests.
  const traded = new Map<string, number>();
  for (const f of fills) {
    for (const id of [f.taker, f.maker]) traded.set(id, (traded.get(id) ?? 0) + f.qty);
  }
  const resting = new Map([...bids, ...asks].map((o) => [o.id, o.qty]));
  assert.equal(resting.size, bids.length + asks.length, "an order rests once");
  for (const { id, qty } of applied) {
    assert.equal((traded.get(id) ?? 0) + (resting.get(id) ?? 0), qty, `order ${id}`);
  }
  console.log(
    `${applied.length} orders (${resent} resends), ${fills.length} fills, ${resting.size} resting`,
  );
});

Deno.test("examples: a wrong command line prints the usage and exits 2, no stack trace", async () => {
  for (const name of ["hello.ts", "chat.ts", "orderbook.ts", "ratelimiter.ts"]) {
    await using run = spawnExample(name, "--bogus");
    const { status, err } = await run.finished();
    assert.equal(status.code, 2, `${name}: ${err}`);
    assert.match(err, /Unknown option '--bogus'.*\nusage: deno task /);
    assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
  }
});
