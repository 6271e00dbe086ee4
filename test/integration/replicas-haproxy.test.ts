/**
 * Stateless replicas on one PostgreSQL behind a real load balancer: three service processes
 * (`node --import tsx src/server.ts`, as in production but from the sources), Debian's HAProxy in
 * front, health-checked on /readyz, a real PostgreSQL cluster behind.
 *
 *  1. A CDS client JWT accepted by replica 1 is refused when replayed to replica 2.
 *  2. Under steady load (CDS calls and feedback through HAProxy), replica 1 gets SIGKILL and
 *     replica 2 SIGTERM: calls fail only while in flight on the killed replica, none once HAProxy
 *     has noticed; replica 2 answers /readyz 503 first, finishes its calls in flight (one slow call
 *     sent to it just before) and exits 0; every feedback entry acknowledged with 200 is in
 *     PostgreSQL. The counts are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { CryptoKey } from 'jose';
import { exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { freePort } from '../helpers/ports.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { signCdsJwt } from '../helpers/jwt.js';

const ISS = 'https://ehr.replicas.test/';
const SERVICE = '/cds-services/cart-hematotox-patient-view';
const FEEDBACK = `${SERVICE}/feedback`;
const PATIENT = 'replica-test-patient-7';
const ADMIN_TOKEN = 'replica-test-admin-token-0123456789abcdef';
const WORKERS = 8;
/** Health checks every 200 ms, down after 2 failures: HAProxy notices a dead replica within ~600 ms. */
const CHECK_INTERVAL_MS = 200;
const SHUTDOWN_DELAY_MS = 1500;
const SLOW_FHIR_MS = 2500;

interface Replica {
  name: string;
  port: number;
  child: ChildProcess;
  output: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let pgCluster: TestPostgres;
let key: CryptoKey;
let dir: string;
let lbPort: number;
let haproxy: ChildProcess | undefined;
let slowFhir: Server;
/** When HAProxy marked each replica down (from its log). */
const downAt = new Map<string, number>();
const replicas: Replica[] = [];

const baseUrl = (): string => `http://127.0.0.1:${lbPort}`;

function jwt(path: string, jti?: string): Promise<string> {
  return signCdsJwt(key, { iss: ISS, aud: `${baseUrl()}${path}`, sub: 'ehr-client-1', ...(jti ? { jti } : {}) });
}

function hookBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/replica-tester', patientId: PATIENT },
    prefetch: {
      patient: { resourceType: 'Patient', id: PATIENT },
      observations: null,
      medicationAdministrations: null,
      procedures: null,
      conditions: null,
    },
    ...extra,
  });
}

async function post(url: string, path: string, body: string, token?: string): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? (await jwt(path))}` },
    body,
    signal: AbortSignal.timeout(15_000),
  });
}

function startReplica(name: string, port: number, databaseUrl: string, jwksFile: string): Replica {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: process.cwd(),
    env: {
      PATH: process.env['PATH'] ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile }]),
      PUBLIC_BASE_URL: baseUrl(),
      ADMIN_TOKEN,
      FHIR_ALLOW_HTTP: 'true',
      SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name, port, child, output, exit };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ready(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
  return res.status === 200;
}

function haproxyConfig(): string {
  return `global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 2s
  retries 2
  option redispatch
frontend cds
  bind 127.0.0.1:${lbPort}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  http-response set-header X-Replica %s
  default-server inter ${CHECK_INTERVAL_MS}ms fall 2 rise 1
${replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`).join('\n')}
`;
}

beforeAll(async () => {
  pgCluster = await startTestPostgres();
  dir = mkdtempSync(join(tmpdir(), 'cart-replicas-'));
  const pair = await generateKeyPair('ES384', { extractable: true });
  key = pair.privateKey;
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig' }] }));
  lbPort = await freePort();
  // A FHIR server that takes SLOW_FHIR_MS per request: a call in flight during the drain.
  slowFhir = createHttpServer((req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/fhir+json');
      res.end(
        JSON.stringify(
          /\/Patient\//.test(req.url ?? '')
            ? { resourceType: 'Patient', id: PATIENT }
            : { resourceType: 'Bundle', type: 'searchset', entry: [] },
        ),
      );
    }, SLOW_FHIR_MS);
  });
  await new Promise<void>((resolve) => slowFhir.listen(0, '127.0.0.1', resolve));
  for (const name of ['r1', 'r2', 'r3']) replicas.push(startReplica(name, await freePort(), pgCluster.url, jwksFile));
  await Promise.all(replicas.map((r) => waitFor(() => ready(r.port), 30_000, `${r.name} ready`)));
  writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig());
  haproxy = spawn(
    existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy',
    ['-f', join(dir, 'haproxy.cfg'), '-db'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // HAProxy reports a server's state changes on stderr: the moment it took a replica out.
  haproxy.stderr?.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/Server replicas\/(r\d) is DOWN/g)) if (m[1]) downAt.set(m[1], Date.now());
  });
  await waitFor(async () => (await fetch(`${baseUrl()}/readyz`)).status === 200, 10_000, 'haproxy');
}, 90_000);

afterAll(async () => {
  for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  haproxy?.kill('SIGTERM');
  await new Promise<void>((resolve) => slowFhir.close(() => resolve()));
  await pgCluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a jti accepted by one replica is refused when replayed to another', async () => {
  const [r1, r2] = replicas;
  const token = await jwt(SERVICE);
  const first = await post(`http://127.0.0.1:${r1?.port}`, SERVICE, hookBody(), token);
  const replayed = await post(`http://127.0.0.1:${r2?.port}`, SERVICE, hookBody(), token);
  process.stdout.write(
    `jti replay across replicas: first call ${first.status}, replay to another replica ${replayed.status}\n`,
  );
  expect(first.status).toBe(200);
  expect(replayed.status).toBe(401);
});

/** `[503, 503, 'closed']` → `503×2 closed×1`: the sequence of answers, compressed. */
function runs(values: readonly (number | string)[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    out.push(`${String(values[i])}×${j - i}`);
    i = j;
  }
  return out.join(' ');
}

interface Outcome {
  kind: 'call' | 'feedback';
  startedAt: number;
  endedAt: number;
  status: number | 'network-error';
  replica: string | null;
}

test('SIGKILL one replica and SIGTERM another under load: failures only in flight on the killed one, drain clean, no acknowledged feedback lost', async () => {
  const [r1, r2] = replicas as [Replica, Replica, Replica];
  const outcomes: Outcome[] = [];
  const acknowledged: string[] = [];
  let running = true;
  const worker = async (n: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const feedback = (i + n) % 3 === 0;
      const startedAt = Date.now();
      const card = randomUUID();
      const body = feedback
        ? JSON.stringify({
            feedback: [
              {
                card,
                outcome: 'accepted',
                acceptedSuggestions: [{ id: 'a' }],
                outcomeTimestamp: new Date().toISOString(),
              },
            ],
          })
        : hookBody();
      try {
        const res = await post(baseUrl(), feedback ? FEEDBACK : SERVICE, body);
        await res.arrayBuffer();
        outcomes.push({
          kind: feedback ? 'feedback' : 'call',
          startedAt,
          endedAt: Date.now(),
          status: res.status,
          replica: res.headers.get('x-replica'),
        });
        if (feedback && res.status === 200) acknowledged.push(card);
      } catch {
        outcomes.push({
          kind: feedback ? 'feedback' : 'call',
          startedAt,
          endedAt: Date.now(),
          status: 'network-error',
          replica: null,
        });
      }
    }
  };
  const load = Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
  await new Promise((r) => setTimeout(r, 1500));

  const killedAt = Date.now();
  r1.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));

  // A slow call in flight on r2 when it is told to stop: it must still be answered.
  const slowPath = SERVICE;
  const slowCall = post(
    `http://127.0.0.1:${r2.port}`,
    slowPath,
    JSON.stringify({
      hook: 'patient-view',
      hookInstance: randomUUID(),
      fhirServer: `http://127.0.0.1:${(slowFhir.address() as AddressInfo).port}/fhir`,
      context: { userId: 'Practitioner/replica-tester', patientId: PATIENT },
    }),
  ).then(async (res) => ({ status: res.status, body: await res.text() }));
  await new Promise((r) => setTimeout(r, 200));
  const terminatedAt = Date.now();
  r2.child.kill('SIGTERM');
  const readyzDuringDrain: (number | 'closed')[] = [];
  const watchReadyz = (async () => {
    // Until the process has exited: a status per poll, or 'closed' once the listener is gone.
    while (r2.child.exitCode === null && r2.child.signalCode === null) {
      try {
        const res = await fetch(`http://127.0.0.1:${r2.port}/readyz`, { signal: AbortSignal.timeout(1000) });
        readyzDuringDrain.push(res.status);
      } catch {
        readyzDuringDrain.push('closed');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const r2Exit = await r2.exit;
  const r2ExitedAt = Date.now();
  await watchReadyz;
  const slow = await slowCall;
  await new Promise((r) => setTimeout(r, 1000));
  running = false;
  await load;

  // Every acknowledged feedback entry is in PostgreSQL.
  const db = new pg.Client({ connectionString: pgCluster.url });
  await db.connect();
  const stored = new Set(
    (
      await db.query<{ card_uuid: string }>('SELECT card_uuid FROM feedback WHERE card_uuid = ANY($1)', [acknowledged])
    ).rows.map((r) => r.card_uuid),
  );
  const audited = Number(
    (await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM audit_event WHERE patient_id = $1', [PATIENT])).rows[0]
      ?.n,
  );
  await db.end();

  const failed = outcomes.filter((o) => o.status !== 200);
  // When HAProxy took r1 out (its log line); health checks every 200 ms, down after 2 failures.
  const noticedAt = downAt.get('r1') ?? Number.POSITIVE_INFINITY;
  const noticedBy = noticedAt + 50; // a request sent as the log line was written
  const lateFailures = failed.filter((o) => o.startedAt > noticedBy);
  const byReplica = (name: string): number => outcomes.filter((o) => o.replica === name && o.status === 200).length;
  const report = {
    requests: outcomes.length,
    ok: outcomes.length - failed.length,
    failed: failed.length,
    balancerNoticedAfterMs: noticedAt - killedAt,
    failedAfterBalancerNoticed: lateFailures.length,
    failureStatuses: [...new Set(failed.map((f) => f.status))],
    failures: failed.map(
      (f) =>
        `${f.kind} ${f.status}, sent at SIGKILL ${f.startedAt - killedAt >= 0 ? '+' : ''}${f.startedAt - killedAt} ms`,
    ),
    servedBy: { r1: byReplica('r1'), r2: byReplica('r2'), r3: byReplica('r3') },
    feedbackAcknowledged: acknowledged.length,
    feedbackFoundInPostgres: stored.size,
    auditEventsForPatient: audited,
    sigtermReplica: {
      readyzWhileDraining: runs(readyzDuringDrain),
      balancerTookOutAfterMs: (downAt.get('r2') ?? Number.NaN) - terminatedAt,
      exit: r2Exit,
      drainMs: r2ExitedAt - terminatedAt,
      slowCallInFlight: slow.status,
    },
  };
  process.stdout.write(`multi-replica run: ${JSON.stringify(report, null, 2)}\n`);

  expect(outcomes.length).toBeGreaterThan(100);
  expect(noticedAt - killedAt).toBeLessThan(5000);
  // Each failure was in flight on r1 when it was killed, or sent to it before HAProxy took it out.
  expect(failed.every((o) => o.endedAt >= killedAt && o.startedAt <= noticedBy)).toBe(true);
  expect(lateFailures).toEqual([]);
  expect(stored.size).toBe(acknowledged.length);
  // 503 first (the balancer takes the replica out), then the listener closes, then the process exits.
  expect(readyzDuringDrain).toContain(503);
  const closedAt = readyzDuringDrain.indexOf('closed');
  expect(closedAt === -1 || readyzDuringDrain.indexOf(503) < closedAt).toBe(true);
  expect(readyzDuringDrain.slice(readyzDuringDrain.indexOf(503))).not.toContain(200);
  expect(r2Exit).toEqual({ code: 0, signal: null });
  // HAProxy took r2 out on its 503s, before r2 stopped listening.
  expect(downAt.get('r2')).toBeLessThan(terminatedAt + SHUTDOWN_DELAY_MS);
  expect(slow.status).toBe(200);
  expect(r2ExitedAt - terminatedAt).toBeGreaterThanOrEqual(SHUTDOWN_DELAY_MS);
  expect(byReplica('r3')).toBeGreaterThan(0);
  expect(audited).toBeGreaterThan(0);
  // Logs never hold the patient id (the audit table is the one place for it).
  for (const r of replicas) expect(r.output.join('')).not.toContain(PATIENT);
}, 60_000);
