/**
 * What a hostile fhirServer costs the running service: the real server (a child process with the
 * default caps and deadline) is sent patient-view calls whose fhirServer streams an endless body,
 * a valid 200 MB page, a 512 MB gzip bomb, or trickles; for each, the time to the 412, the child's
 * RSS before and at its peak (polled from /proc every 20 ms), and /healthz latency during the call.
 * The floor is the same call against a well-behaved server with the same data, in the same run.
 *
 *   npx tsx bench/hostile-fhir.ts [--repeat 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hostileFhir, type HostileMode } from '../test/helpers/hostile-fhir.js';

const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' } } });
const REPEAT = Number(values.repeat);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function startService(): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const built = existsSync('dist/src/server.js');
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DEMO: 'false',
    FHIR_ALLOW_HTTP: 'true',
    LOG_LEVEL: 'warn',
    FEEDBACK_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'bench-')), 'fb.sqlite'),
  };
  // The child's own pid is the service (not an npx wrapper), so its RSS is what is measured.
  const child = spawn(process.execPath, built ? ['dist/src/server.js'] : ['--import', 'tsx', 'src/server.ts'], {
    env,
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base };
    } catch {
      /* not yet listening */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the service did not start');
}

interface Run {
  status: number;
  ms: number;
  rssBefore: number;
  rssPeak: number;
  healthMs: number;
}

async function measure(base: string, pid: number, mode: HostileMode): Promise<Run> {
  const fhir = await hostileFhir({
    mode: 'normal',
    paths: { Observation: mode },
    hugeBytes: 200 * 1_048_576,
    bombBytes: 512 * 1_048_576,
    trickleMs: 5,
  });
  try {
    global.gc?.();
    const rssBefore = rssMb(pid);
    let rssPeak = rssBefore;
    const poll = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid))), 20);
    const started = performance.now();
    const call = fetch(`${base}/cds-services/cart-hematotox-patient-view`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: crypto.randomUUID(),
        fhirServer: fhir.baseUrl,
        context: { userId: 'Practitioner/x', patientId: 'p1' },
      }),
    });
    await new Promise((r) => setTimeout(r, 300));
    const h0 = performance.now();
    await fetch(`${base}/healthz`);
    const healthMs = performance.now() - h0;
    const res = await call;
    await res.arrayBuffer();
    const ms = performance.now() - started;
    clearInterval(poll);
    return { status: res.status, ms, rssBefore, rssPeak, healthMs };
  } finally {
    await fhir.close();
  }
}

const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function main(): Promise<void> {
  const { child, base } = await startService();
  const pid = child.pid ?? 0;
  const modes: HostileMode[] = ['normal', 'endless', 'huge', 'gzip-bomb', 'slow-body'];
  const runs = new Map<HostileMode, Run[]>(modes.map((m) => [m, []]));
  try {
    for (let r = 0; r < REPEAT; r++) for (const mode of modes) runs.get(mode)?.push(await measure(base, pid, mode)); // interleaved
  } finally {
    child.kill('SIGTERM');
  }
  const floor = runs.get('normal') ?? [];
  console.log(
    `hostile fhirServer vs the running service (defaults: FHIR_TIMEOUT_MS 5000, 32 MB per response, 64 MB per call), ${REPEAT} interleaved runs each; floor = 'normal' (same call, well-behaved server)`,
  );
  console.log(
    '| fhirServer | status | time to answer, ms | ÷ floor | RSS before, MB | RSS peak, MB | RSS growth, MB | /healthz during, ms |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const floorMs = floor.reduce((n, r) => n + r.ms, 0) / Math.max(1, floor.length);
  for (const mode of modes) {
    const rs = runs.get(mode) ?? [];
    console.log(
      `| ${mode} | ${[...new Set(rs.map((r) => r.status))].join(',')} | ${spread(rs.map((r) => r.ms))} | ${spread(rs.map((r) => r.ms / floorMs))} | ${spread(rs.map((r) => r.rssBefore))} | ${spread(rs.map((r) => r.rssPeak))} | ${spread(rs.map((r) => r.rssPeak - r.rssBefore))} | ${spread(rs.map((r) => r.healthMs))} |`,
    );
  }
}

await main();
