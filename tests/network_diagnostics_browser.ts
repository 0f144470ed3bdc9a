/// <reference lib="dom" />
// Opens the diagnostics page in Debian's Chromium through playwright-core,
// waits until the graph shows the expected peers, saves a screenshot and
// prints what it saw as JSON. Run by network_diagnostics_test.ts in a child
// process: playwright probes /proc files that Deno only grants with -A, and
// the test itself stays limited to loopback.
import { chromium } from "npm:playwright-core@1.65.1";

const [url, expectedNodes, screenshot] = Deno.args;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  await page.goto(url);
  await page.waitForFunction(
    (n) => document.querySelectorAll("#nodes g.node").length === n,
    Number(expectedNodes),
    { timeout: 20_000 },
  );
  await page.waitForFunction(() => document.querySelectorAll("#edges path").length > 0, null, {
    timeout: 20_000,
  });
  const seen = await page.evaluate(() => ({
    nodes: [...document.querySelectorAll("#nodes g.node")].map((g) => g.getAttribute("data-peer")),
    edges: [...document.querySelectorAll("#edges path")].map((e) =>
      ["data-from", "data-to", "data-kind"].map((a) => e.getAttribute(a))
    ),
    leaders: document.querySelectorAll("#nodes g.node.leader").length,
    groups: document.querySelectorAll("#groups tr").length,
    summary: document.getElementById("summary")?.textContent,
  }));
  if (screenshot) await page.screenshot({ path: screenshot });
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
