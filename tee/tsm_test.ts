// configfs-tsm against a temp directory that reproduces the kernel's file
// protocol (see _fake_tsm.ts).
import assert from "node:assert/strict";
import { getTdxQuote } from "./tsm.ts";
import { TsmError } from "./errors.ts";
import { parseQuote } from "./quote.ts";
import { fakeKernel } from "./testing.ts";

Deno.test("getTdxQuote follows the configfs-tsm protocol", async () => {
  const k = await fakeKernel();
  try {
    for (let i = 0; i < 2; i++) {
      const reportData = new Uint8Array(64).fill(0x40 + i);
      const quote = await k.serving(() =>
        getTdxQuote(reportData, { root: k.root, entry: k.entry })
      );
      const body = parseQuote(quote).body;
      assert(body.kind === "td10");
      assert.deepEqual(body.reportData, reportData);
    }
    assert.equal((await Deno.readTextFile(`${k.root}/${k.entry}/generation`)).trim(), "2");
  } finally {
    await k.remove();
  }
});

Deno.test("getTdxQuote detects a concurrent writer through generation", async () => {
  const k = await fakeKernel();
  try {
    await assert.rejects(
      k.serving(() => getTdxQuote(new Uint8Array(64), { root: k.root, entry: k.entry }), 2),
      (e) => e instanceof TsmError && e.code === "generation",
    );
  } finally {
    await k.remove();
  }
});

Deno.test("getTdxQuote refuses a non-TDX provider", async () => {
  const k = await fakeKernel("sev_guest");
  try {
    // Served anyway: the fake kernel must not hang when nobody reads outblob.
    await assert.rejects(
      k.serving(() => getTdxQuote(new Uint8Array(64), { root: k.root, entry: k.entry })),
      (e) => e instanceof TsmError && e.code === "provider",
    );
  } finally {
    await k.remove();
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
