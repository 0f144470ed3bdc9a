// Shared printing for benchmarks: every figure next to its anchor and the ratio.

/**
 * Prints one comparison line. A goal is a ratio against the anchor
 * (`higherIsBetter` decides how it reads) or an absolute bound on the figure
 * (`max`, in the figure's unit).
 */
export function report(
  name: string,
  ours: number,
  anchor: number,
  unit: string,
  goal?: { ratio: number; higherIsBetter: boolean } | { max: number },
): void {
  const ratio = ours / anchor;
  let verdict = "";
  if (goal && "max" in goal) {
    verdict = `  goal < ${goal.max} ${unit} ${ours < goal.max ? "met" : "MISSED"}`;
  } else if (goal) {
    const met = goal.higherIsBetter ? ratio >= goal.ratio : ratio <= goal.ratio;
    verdict = `  goal ${goal.higherIsBetter ? "≥" : "≤"} ${goal.ratio}× ${met ? "met" : "MISSED"}`;
  }
  console.log(
    `${name.padEnd(44)} ${fmt(ours).padStart(12)} ${unit.padEnd(10)} anchor ${
      fmt(anchor).padStart(12)
    }  ratio ${ratio.toFixed(2)}×${verdict}`,
  );
}

/** Prints a figure that has an absolute goal instead of an anchor. */
export function figure(name: string, value: number, unit: string, note = ""): void {
  console.log(`${name.padEnd(44)} ${fmt(value).padStart(12)} ${unit.padEnd(10)} ${note}`);
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2);
}

/** Percentile of sorted-or-not samples (0..100). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
