// configfs-tsm against a temp directory that reproduces the kernel's file
// protocol: `provider` and `generation` files, an `inblob` the caller
// writes, and `outblob` as a FIFO so that reading it blocks until the "kernel"
// has produced the quote, as the real attribute does.
import assert from "node:assert/strict";
import { getTdxQuote } from "./tsm.ts";
import { TsmError } from "./errors.ts";
import { parseQuote } from "./quote.ts";
import { readQuote } from "./_test_vectors.ts";

const TEMPLATE = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");

interface FakeKernel {
  root: string;
  entry: string;
  /** Serves one quote request; resolves when the quote was handed out. */
  serve(generationStep?: number): Promise<void>;
}

async function fakeKernel(provider = "tdx_guest"): Promise<FakeKernel> {
  const root = await Deno.makeTempDir({ prefix: "tsm-report-" });
  const entry = "entry0";
  const dir = `${root}/${entry}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/provider`, provider + "\n");
  await Deno.writeTextFile(`${dir}/generation`, "0\n");
  await Deno.writeFile(`${dir}/inblob`, new Uint8Array());
  const { success } = await new Deno.Command("mkfifo", { args: [`${dir}/outblob`] }).output();
  assert(success, "mkfifo");
  return {
    root,
    entry,
    async serve(step = 1) {
      // Opening the FIFO for writing waits for the reader, i.e. after inblob was written.
      const out = await Deno.open(`${dir}/outblob`, { write: true });
      const inblob = await Deno.readFile(`${dir}/inblob`);
      const gen = Number((await Deno.readTextFile(`${dir}/generation`)).trim());
      await Deno.writeTextFile(`${dir}/generation`, `${gen + step}\n`);
      const quote = TEMPLATE.slice();
      quote.set(inblob, 568); // REPORTDATA of a v4 TD quote
      let written = 0;
      while (written < quote.length) written += await out.write(quote.subarray(written));
      out.close();
    },
  };
}

Deno.test("getTdxQuote follows the configfs-tsm protocol", async () => {
  const k = await fakeKernel();
  try {
    for (let i = 0; i < 2; i++) {
      const reportData = new Uint8Array(64).fill(0x40 + i);
      const [quote] = await Promise.all([
        getTdxQuote(reportData, { root: k.root, entry: k.entry }),
        k.serve(),
      ]);
      const body = parseQuote(quote).body;
      assert(body.kind === "td10");
      assert.deepEqual(body.reportData, reportData);
    }
    assert.equal((await Deno.readTextFile(`${k.root}/${k.entry}/generation`)).trim(), "2");
  } finally {
    await Deno.remove(k.root, { recursive: true });
  }
});

Deno.test("getTdxQuote detects a concurrent writer through generation", async () => {
  const k = await fakeKernel();
  try {
    const [result] = await Promise.allSettled([
      getTdxQuote(new Uint8Array(64), { root: k.root, entry: k.entry }),
      k.serve(2),
    ]);
    assert(result.status === "rejected" && result.reason instanceof TsmError);
    assert.equal(result.reason.code, "generation");
  } finally {
    await Deno.remove(k.root, { recursive: true });
  }
});

Deno.test("getTdxQuote refuses a non-TDX provider", async () => {
  const k = await fakeKernel("sev_guest");
  try {
    await assert.rejects(
      getTdxQuote(new Uint8Array(64), { root: k.root, entry: k.entry }),
      (e) => e instanceof TsmError && e.code === "provider",
    );
  } finally {
    await Deno.remove(k.root, { recursive: true });
  }
});

Deno.test("getTdxQuote without configfs-tsm is a clear unavailable error", async () => {
  const root = await Deno.makeTempDir({ prefix: "tsm-empty-" });
  try {
    await assert.rejects(
      getTdxQuote(new Uint8Array(64), { root: `${root}/missing` }),
      (e) => e instanceof TsmError && e.code === "unavailable",
    );
    // A plain directory: the entry is created, has no attributes, and is removed again.
    await assert.rejects(
      getTdxQuote(new Uint8Array(64), { root }),
      (e) => e instanceof TsmError && e.code === "unavailable",
    );
    assert.deepEqual([...Deno.readDirSync(root)], []);
    await assert.rejects(getTdxQuote(new Uint8Array(32), { root }), RangeError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "getTdxQuote without write permission is a clear permission error",
  permissions: { read: true, write: false, env: true },
  async fn() {
    // Deno refuses the mkdir before the OS sees it, so nothing is created here.
    await assert.rejects(
      getTdxQuote(new Uint8Array(64), { root: import.meta.dirname! }),
      (e) => e instanceof TsmError && e.code === "permission",
    );
  },
});
