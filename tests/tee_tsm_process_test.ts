// A separate Deno process obtains a quote through configfs-tsm with nothing
// but --allow-read/--allow-write on the report directory (issue 5), against
// the fake kernel tree of tee/_fake_tsm.ts served from this process.
import assert from "node:assert/strict";
import { parseQuote } from "@mosaik/tee";
import { fakeKernel } from "@mosaik/tee/testing";

const CHILD = `
import { getTdxQuote } from "@mosaik/tee";
const [root, entry] = Deno.args;
const quote = await getTdxQuote(new Uint8Array(64).fill(0x5a), { root, entry });
await Deno.stdout.write(quote);
`;

Deno.test("a process with read/write on the report directory only gets a quote", async () => {
  const k = await fakeKernel();
  try {
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${k.root}`,
        `--allow-write=${k.root}`,
        "--no-prompt",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        "-",
        k.root,
        k.entry,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const output = await k.serving(async () => {
      const child = command.spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(CHILD));
      await writer.close();
      return await child.output();
    });
    assert(output.success, new TextDecoder().decode(output.stderr));
    const body = parseQuote(output.stdout).body;
    assert(body.kind === "td10");
    assert.deepEqual(body.reportData, new Uint8Array(64).fill(0x5a));
  } finally {
    await k.remove();
  }
});
