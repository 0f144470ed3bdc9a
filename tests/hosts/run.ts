/**
 * `deno task test:hosts`: runs the multi-host suites (`tests/hosts/*_suite.ts`)
 * when this machine can build network namespaces (root, `ip`, `nft`);
 * otherwise says why and runs nothing.
 *
 * @module
 */
import { labSupport } from "./lab.ts";

const support = labSupport();
if (!support.ok) {
  console.log(`tests/hosts: skipped: ${support.reason}`);
  Deno.exit(0);
}
const dir = new URL(".", import.meta.url).pathname;
const suites = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) =>
    n.endsWith("_suite.ts") && (Deno.args.length === 0 || Deno.args.some((a) => n.includes(a)))
  )
  .sort()
  .map((n) => dir + n);
const { code } = await new Deno.Command(Deno.execPath(), {
  args: [
    "test",
    "--allow-run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    ...suites,
  ],
}).spawn().status;
Deno.exit(code);
