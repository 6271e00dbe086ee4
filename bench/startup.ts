/**
 * Start-up: from spawning the compiled service to its first 200 on /readyz, with the demo (the
 * demo FHIR server seeded in its worker thread) and without, interleaved, REPS repetitions. The
 * service is compiled into a scratch folder first (tsc, ~30 s), so that the figure is `npm start`'s
 * and not tsx's. Run: npx tsx bench/startup.ts
 */
import { join } from 'node:path';
import { compiled } from './lib/compile.js';
import { start, waitFor } from './lib/processes.js';
import { type Row, runAsScript, spread } from './lib/stats.js';

const REPS = Number(process.env['REPS'] ?? 3);

async function startOnce(dir: string, demo: boolean, port: number): Promise<number> {
  const since = performance.now();
  const child = start(
    [join(dir, 'dist/src/server.js')],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DEMO: String(demo),
      FHIR_ALLOW_HTTP: 'true',
      LOG_LEVEL: 'warn',
      FEEDBACK_SQLITE_PATH: ':memory:',
    },
    `http://127.0.0.1:${port}`,
  );
  try {
    return await waitFor(`${child.url}/readyz`, since, 60_000);
  } finally {
    await child.stop();
  }
}

export async function benchStartup(): Promise<Row[]> {
  const dir = compiled();
  const withDemo: number[] = [];
  const without: number[] = [];
  await startOnce(dir, true, 18335); // warm the file cache
  for (let rep = 0; rep < REPS; rep++) {
    withDemo.push(await startOnce(dir, true, 18335));
    without.push(await startOnce(dir, false, 18336));
  }
  return [
    {
      what: 'start to /readyz with the demo (compiled; demo worker listening, patients loaded on demand)',
      figure: `${spread(withDemo.map((ms) => ms / 1000))} s`,
      resolveAt: '≤ 1.5 s',
      detail: `without the demo ${spread(without.map((ms) => ms / 1000))} s`,
    },
  ];
}

await runAsScript(import.meta.url, benchStartup);
