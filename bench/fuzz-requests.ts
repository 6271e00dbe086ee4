/**
 * Fires structure-aware malformed requests at the REAL service over HTTP and reports how it copes.
 *
 *   npx tsx bench/fuzz-requests.ts [--requests 100000] [--concurrency 16] [--port 0] [--seed n] [--server tsx|dist]
 *   npm run fuzz -- --requests 10000
 *
 * Starts the service as a child process on 127.0.0.1 (`--server tsx`: `node --import tsx src/server.ts`,
 * the current sources; `--server dist`: `node dist/src/server.js` after `npm run build`), with
 * DEMO=false, LOG_LEVEL=warn and a fresh SQLite feedback file (FEEDBACK_SQLITE_PATH to choose it).
 * Port: --port N, or 0 (default) for the first free port in 18100–18199, else an ephemeral one.
 *
 * Requests come from the generators and mutators of test/helpers/fuzz-arbitraries.ts (the same as
 * test/integration/fuzz-endpoints.test.ts), spread over patient-view, order-sign, order-select,
 * feedback and /assessments, each with a 5 s client timeout. Prints a status histogram per
 * endpoint, 5xx and hang counts, requests/s, the service's peak RSS, whether it is still alive,
 * and the distinct errors it logged (message and first frames in src/), most frequent first.
 * Exits 1 on any 5xx, hang, network error or a dead service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { todayIn } from '../src/clinical/dates.js';
import {
  buildRequest,
  caseArb,
  crashSite,
  ENDPOINTS,
  type BuiltRequest,
  type Endpoint,
  type FuzzCase,
} from '../test/helpers/fuzz-arbitraries.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const CLIENT_TIMEOUT_MS = 5_000;
const CHUNK = 500;

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '16' },
    port: { type: 'string', default: '0' },
    seed: { type: 'string' },
    server: { type: 'string', default: 'tsx' },
  },
});
const total = Number(args.requests);
const concurrency = Number(args.concurrency);
const seed = Number(args.seed ?? process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  process.stderr.write('--requests and --concurrency must be positive integers\n');
  process.exit(2);
}
if (args.server !== 'tsx' && args.server !== 'dist') {
  process.stderr.write('--server must be tsx or dist\n');
  process.exit(2);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, HOST, () => s.close(() => done(true)));
  });
}

async function choosePort(requested: number): Promise<number> {
  if (requested > 0) return requested;
  for (let p = 18100; p <= 18199; p++) if (await portFree(p)) return p;
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, HOST, () => {
      const address = s.address();
      s.close(() =>
        address && typeof address === 'object' ? done(address.port) : fail(new Error('no ephemeral port')),
      );
    });
  });
}

// ---- The service ---------------------------------------------------------------------------------

interface Service {
  child: ChildProcess;
  baseUrl: string;
  errors: Map<string, number>;
  /** Request id (sent as X-Request-Id) → the error logged for it. */
  errorOf: Map<string, string>;
  otherOutput: string[];
  exited: () => boolean;
}

function asText(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
}

/** What an error-level log line says: message, error and its first frames in the sources. */
function describeLog(rec: Record<string, unknown>): string {
  const err = rec['err'] as { type?: string; message?: string; stack?: string } | undefined;
  const frames = crashSite(err?.stack);
  const issues = Array.isArray(rec['issues']) ? (rec['issues'] as string[]).join('; ') : '';
  const what = err
    ? `${err.type ?? 'Error'}: ${(err.message ?? '').slice(0, 160)}`
    : issues.slice(0, 160) || asText(rec['error']);
  return `${asText(rec['msg'])}: ${what}${frames ? ` @ ${frames}` : ''}`;
}

async function startService(port: number): Promise<Service> {
  const sqlite = process.env['FEEDBACK_SQLITE_PATH'] ?? join(mkdtempSync(join(tmpdir(), 'cart-fuzz-')), 'fb.sqlite');
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST,
    DEMO: 'false',
    LOG_LEVEL: 'warn',
    FEEDBACK_SQLITE_PATH: sqlite,
  };
  // Only the SQLite file: never a database, issuers or hospital settings from the caller's shell.
  for (const key of ['DATABASE_URL', 'CDS_TRUSTED_ISSUERS', 'ADMIN_TOKEN', 'PUBLIC_BASE_URL', 'NODE_OPTIONS'])
    delete env[key];
  const argv =
    args.server === 'dist' ? [join(ROOT, 'dist/src/server.js')] : ['--import', 'tsx', join(ROOT, 'src/server.ts')];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const errors = new Map<string, number>();
  const errorOf = new Map<string, string>();
  const otherOutput: string[] = [];
  const onLine = (line: string): void => {
    let rec: Record<string, unknown> | undefined;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      if (line.trim() && otherOutput.length < 200) otherOutput.push(line);
      return;
    }
    if (rec['level'] === 'error' || rec['level'] === 'fatal') {
      const key = describeLog(rec);
      errors.set(key, (errors.get(key) ?? 0) + 1);
      if (typeof rec['reqId'] === 'string' && !errorOf.has(rec['reqId'])) errorOf.set(rec['reqId'], key);
    }
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);

  const baseUrl = `http://${HOST}:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the service exited during start-up:\n${otherOutput.join('\n')}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service did not answer /healthz within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, baseUrl, errors, errorOf, otherOutput, exited: () => exited };
}

function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function stopService(s: Service): Promise<void> {
  if (s.exited()) return;
  const gone = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

// ---- The requests --------------------------------------------------------------------------------

interface Tally {
  statuses: Map<number, number>;
  hangs: number;
  networkErrors: number;
  notJson: number;
}

async function fire(
  baseUrl: string,
  id: string,
  req: BuiltRequest,
  tally: Tally,
  hangExamples: Map<string, string>,
  failed: Map<string, string>,
): Promise<void> {
  try {
    const res = await fetch(`${baseUrl}${req.path}`, {
      method: 'POST',
      headers: { 'content-type': req.contentType, 'x-request-id': id },
      body: req.body,
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500 && failed.size < 10_000)
      failed.set(id, `${req.endpoint}: ${req.changes.join('; ') || '(no mutation)'}`);
    const type = res.headers.get('content-type') ?? '';
    let json = /json/.test(type);
    if (json) {
      try {
        JSON.parse(text);
      } catch {
        json = false;
      }
    }
    if (!json) tally.notJson++;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      tally.hangs++;
      if (hangExamples.size < 20) hangExamples.set(`${req.endpoint} hang`, req.changes.join('; ') || '(no mutation)');
    } else tally.networkErrors++;
  }
}

async function main(): Promise<void> {
  const port = await choosePort(Number(args.port));
  const today = todayIn(process.env['TIME_ZONE'] ?? 'UTC');
  process.stderr.write(
    `fuzz: ${total} requests, concurrency ${concurrency}, seed ${seed}, service via ${args.server} on ${HOST}:${port}\n`,
  );
  const service = await startService(port);
  const pid = service.child.pid as number;
  let peakRss = rssKb(pid) ?? 0;
  const poll = setInterval(() => {
    peakRss = Math.max(peakRss, rssKb(pid) ?? 0);
  }, 100);

  const tallies = new Map<Endpoint, Tally>(
    ENDPOINTS.map((e) => [e, { statuses: new Map(), hangs: 0, networkErrors: 0, notJson: 0 }]),
  );
  const hangExamples = new Map<string, string>();
  const failed = new Map<string, string>();
  const arbitrary = caseArb();
  let chunk: FuzzCase[] = [];
  let next = 0;
  let done = 0;
  const caseAt = (i: number): FuzzCase => {
    const offset = i % CHUNK;
    if (offset === 0) chunk = fc.sample(arbitrary, { numRuns: CHUNK, seed: seed + i / CHUNK });
    return chunk[offset] as FuzzCase;
  };

  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total && !service.exited()) {
      const i = next++;
      const req = buildRequest(caseAt(i), today);
      await fire(service.baseUrl, `fuzz-${seed}-${i}`, req, tallies.get(req.endpoint) as Tally, hangExamples, failed);
      done++;
      if (done % Math.max(1, Math.floor(total / 10)) === 0)
        process.stderr.write(
          `  ${done}/${total} (${Math.round(done / ((performance.now() - started) / 1000))} req/s)\n`,
        );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  peakRss = Math.max(peakRss, rssKb(pid) ?? 0);
  clearInterval(poll);
  const alive = !service.exited();
  // Give the last log lines a moment to arrive before reading them.
  await new Promise((r) => setTimeout(r, 300));
  await stopService(service);

  // ---- Report ----
  const out: string[] = [];
  let fiveXx = 0;
  let hangs = 0;
  let networkErrors = 0;
  out.push(`\nendpoint        requests   2xx    4xx    5xx  hangs  neterr  non-JSON  statuses`);
  for (const [endpoint, t] of tallies) {
    const count = (lo: number, hi: number): number =>
      [...t.statuses].filter(([s]) => s >= lo && s < hi).reduce((a, [, n]) => a + n, 0);
    const requests = [...t.statuses.values()].reduce((a, n) => a + n, 0) + t.hangs + t.networkErrors;
    fiveXx += count(500, 600);
    hangs += t.hangs;
    networkErrors += t.networkErrors;
    const histogram = [...t.statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    out.push(
      `${endpoint.padEnd(14)} ${String(requests).padStart(8)} ${String(count(200, 300)).padStart(5)} ${String(count(400, 500)).padStart(6)} ${String(count(500, 600)).padStart(6)} ${String(t.hangs).padStart(6)} ${String(t.networkErrors).padStart(7)} ${String(t.notJson).padStart(9)}  ${histogram}`,
    );
  }
  out.push('');
  out.push(
    `requests: ${done} in ${seconds.toFixed(1)} s = ${(done / seconds).toFixed(0)} req/s (concurrency ${concurrency}, seed ${seed})`,
  );
  out.push(
    `5xx: ${fiveXx} (${((100 * fiveXx) / Math.max(1, done)).toFixed(2)} %)   hangs > ${CLIENT_TIMEOUT_MS / 1000} s: ${hangs}   network errors: ${networkErrors}`,
  );
  out.push(
    `service: peak RSS ${(peakRss / 1024).toFixed(0)} MB, ${alive ? 'alive at the end' : 'DIED during the run'}`,
  );
  const errors = [...service.errors].sort((a, b) => b[1] - a[1]);
  if (errors.length > 0) {
    out.push(`\nerrors the service logged (${errors.length} distinct, most frequent first):`);
    // One request that produced each error, with the mutations it carried.
    const exampleOf = new Map<string, string>();
    for (const [id, key] of service.errorOf)
      if (!exampleOf.has(key) && failed.has(id)) exampleOf.set(key, failed.get(id) as string);
    for (const [message, n] of errors.slice(0, 25)) {
      out.push(`${String(n).padStart(7)}  ${message}`);
      const example = exampleOf.get(message);
      if (example) out.push(`           e.g. ${example.slice(0, 400)}`);
    }
  }
  if (hangExamples.size > 0) {
    out.push('\nexample mutations behind hangs:');
    for (const [what, changes] of hangExamples) out.push(`  ${what}: ${changes.slice(0, 300)}`);
  }
  if (!alive && service.otherOutput.length > 0)
    out.push(`\nthe service's last non-JSON output:\n${service.otherOutput.slice(-20).join('\n')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = fiveXx > 0 || hangs > 0 || networkErrors > 0 || !alive ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`fuzz: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
