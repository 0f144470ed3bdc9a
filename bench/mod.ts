/**
 * Runs every benchmark in `bench/` (or those named on the command line) and
 * prints each figure next to its anchor measured in the same run.
 *
 * `deno task bench [transport discovery streams groups collections tee tickets dht preferences memory hosts]`
 *
 * @module
 */
const AREAS = [
  "transport",
  "discovery",
  "streams",
  "groups",
  "collections",
  "tee",
  "tickets",
  "dht",
  "preferences",
  "memory",
  "hosts",
];

const wanted = Deno.args.length > 0 ? Deno.args : AREAS;
const failed: string[] = [];
for (const area of wanted) {
  const url = new URL(`./${area}.ts`, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    console.log(`## ${area}: no benchmark yet`);
    continue;
  }
  // One area failing (a swarm that did not converge, a missing tool) must not
  // hide the figures of the areas after it.
  try {
    const mod = await import(url.href);
    await mod.run();
  } catch (e) {
    failed.push(area);
    console.log(`## ${area}: FAILED: ${e instanceof Error ? e.stack ?? e.message : e}`);
  }
  console.log();
}
if (failed.length > 0) {
  console.log(`failed areas: ${failed.join(", ")}`);
  Deno.exit(1);
}
