// Plain-text tables for the CLI.

/** Renders rows under headers, columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = headers.map((_, i) =>
    rows.length > 0 && rows.every((r) => typeof r[i] === "number")
  );
  const render = (row: string[]) =>
    row.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [render(headers), render(widths.map((w) => "-".repeat(w))), ...cells.map(render)].join(
    "\n",
  );
}
