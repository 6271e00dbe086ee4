/** Figures as the benchmarks print them: the median and the spread of the repetitions. */
export function spread(values: number[], digits = 2): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `${median.toFixed(digits)} (${(sorted[0] ?? NaN).toFixed(digits)}–${(sorted[sorted.length - 1] ?? NaN).toFixed(digits)})`;
}

/** One line of the table `npm run bench` prints. */
export interface Row {
  what: string;
  figure: string;
  resolveAt: string;
  detail: string;
}

export function printRows(rows: Row[]): void {
  for (const r of rows) console.log(`| ${r.what} | ${r.figure} | ${r.resolveAt} | ${r.detail} |`);
}

/** Machine load, to read the figures by. */
export async function loadAverage(): Promise<string> {
  const { loadavg, availableParallelism } = await import('node:os');
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`;
}
