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
for (const area of wanted) {
  const url = new URL(`./${area}.ts`, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    console.log(`## ${area}: no benchmark yet`);
    continue;
  }
  const mod = await import(url.href);
  await mod.run();
  console.log();
}
