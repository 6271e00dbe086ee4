import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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

/** Whether `moduleUrl` is the script node was started with (its path may hold spaces, or pass through links). */
function isScript(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(script);
  } catch {
    return false;
  }
}

/**
 * A benchmark script run by itself (`npx tsx bench/<name>.ts`, as `npm run bench` runs each one):
 * prints the machine's load and its rows, then exits even if a server or socket is still open.
 */
export async function runAsScript(moduleUrl: string, bench: () => Row[] | Promise<Row[]>): Promise<void> {
  if (!isScript(moduleUrl)) return;
  try {
    console.log(await loadAverage());
    printRows(await bench());
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
