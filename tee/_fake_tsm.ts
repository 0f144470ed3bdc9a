// Test-only: a temp directory that reproduces the kernel's configfs-tsm
// report protocol: `provider` and `generation` files, an `inblob` the caller
// writes, and `outblob` as a FIFO so that reading it blocks until the "kernel"
// has produced the quote, as the real attribute does.

/** A fake report root with one entry. */
export interface FakeKernel {
  /** The report root (pass as `root`). */
  root: string;
  /** The pre-created entry (pass as `entry`). */
  entry: string;
  /**
   * Runs `request` while serving one quote (the template with REPORTDATA = inblob);
   * `generationStep` simulates racing writers. Never hangs if `request`
   * fails before reading `outblob`.
   */
  serving<T>(request: () => Promise<T>, generationStep?: number): Promise<T>;
  /** Removes the directory. */
  remove(): Promise<void>;
}

/** Creates a fake configfs-tsm report root serving TDX v4 quotes like `template`. */
export async function fakeKernelWith(template: Uint8Array, provider: string): Promise<FakeKernel> {
  const root = await Deno.makeTempDir({ prefix: "tsm-report-" });
  const entry = "entry0";
  const dir = `${root}/${entry}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/provider`, provider + "\n");
  await Deno.writeTextFile(`${dir}/generation`, "0\n");
  await Deno.writeFile(`${dir}/inblob`, new Uint8Array());
  const { success } = await new Deno.Command("mkfifo", { args: [`${dir}/outblob`] }).output();
  if (!success) throw new Error("mkfifo failed");
  return {
    root,
    entry,
    async serving<T>(request: () => Promise<T>, step = 1): Promise<T> {
      let opened = false;
      const serve = (async () => {
        // Opening the FIFO for writing waits for the reader, i.e. after inblob was written.
        const out = await Deno.open(`${dir}/outblob`, { write: true });
        opened = true;
        const inblob = await Deno.readFile(`${dir}/inblob`);
        const gen = Number((await Deno.readTextFile(`${dir}/generation`)).trim());
        await Deno.writeTextFile(`${dir}/generation`, `${gen + step}\n`);
        const quote = template.slice();
        quote.set(inblob, 568); // REPORTDATA of a v4 TD quote
        try {
          let written = 0;
          while (written < quote.length) written += await out.write(quote.subarray(written));
        } finally {
          out.close();
        }
      })();
      try {
        return await request();
      } finally {
        // The request gave up before reading: be the reader so the writer finishes.
        if (!opened) await Deno.readFile(`${dir}/outblob`);
        await serve;
      }
    },
    remove: () => Deno.remove(root, { recursive: true }),
  };
}
