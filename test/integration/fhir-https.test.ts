/**
 * fhirServer over https, as in production (FHIR_ALLOW_HTTP unset): the service process
 * (`node --import tsx src/server.ts`) reads a patient from a real TLS server whose certificate comes
 * from a private CA, the way a hospital's internal FHIR endpoint does.
 *
 *  - With the CA given in NODE_EXTRA_CA_CERTS (README, configuration), the call reads the record
 *    through TLS and answers its cards.
 *  - Without it, the certificate is not trusted: the call answers 412 naming the key and "could not
 *    be reached", and no data crossed (certificates are verified; nothing turns that off).
 *
 * The certificate and key in test/fixtures/tls are for this test only (self-signed for 127.0.0.1,
 * made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500
 * -addext subjectAltName=IP:127.0.0.1`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { anc, infusion, patient } from '../helpers/fhir.js';
import { freePort } from '../helpers/ports.js';

const TLS_DIR = join(process.cwd(), 'test/fixtures/tls');
const CERT = join(TLS_DIR, 'fhir-test.crt');
const SERVICE = '/cds-services/cart-hematotox-patient-view';
const RESOURCES: FhirResource[] = [patient(), infusion(0), anc(1, 0.3), anc(2, 0.2)];

let fhir: Server;
let fhirBase: string;
let requests = 0;

beforeAll(async () => {
  fhir = createHttpsServer(
    { key: readFileSync(join(TLS_DIR, 'fhir-test.key')), cert: readFileSync(CERT) },
    (req, res) => {
      requests++;
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const path = url.pathname.replace(/^\/fhir\//, '');
      const read = /^Patient\/([^/]+)$/.exec(path);
      const type = path.split('/')[0];
      const body: FhirResource | Bundle = read
        ? (RESOURCES.find((r) => r.resourceType === 'Patient') as FhirResource)
        : {
            resourceType: 'Bundle',
            type: 'searchset',
            entry: RESOURCES.filter((r) => r.resourceType === type).map((resource) => ({
              resource,
              search: { mode: 'match' as const },
            })),
          };
      res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
    },
  );
  await new Promise<void>((resolve) => fhir.listen(0, '127.0.0.1', resolve));
  fhirBase = `https://127.0.0.1:${(fhir.address() as AddressInfo).port}/fhir`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    fhir.close(() => resolve());
    fhir.closeAllConnections();
  });
});

/** The service process, https-only as deployed, with `env` added; stopped after `run`. */
async function withService<T>(
  env: Record<string, string>,
  run: (base: string) => Promise<T>,
  logs: string[] = [],
): Promise<T> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: process.cwd(),
    env: {
      PATH: process.env['PATH'] ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DEMO: 'false',
      FEEDBACK_SQLITE_PATH: ':memory:',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (const until = Date.now() + 30_000; ;) {
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`the service did not start: ${stderr.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return await run(base);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
}

async function patientView(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      hook: 'patient-view',
      hookInstance: 'b4c1a3a2-1d7b-4a57-9d55-6f0d3b2e8c11',
      fhirServer: fhirBase,
      context: { userId: 'Practitioner/tls', patientId: 'p1' },
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('fhirServer over https', () => {
  test('a private CA given in NODE_EXTRA_CA_CERTS: the record is read through TLS and gives its cards', async () => {
    requests = 0;
    const { status, body } = await withService({ NODE_EXTRA_CA_CERTS: CERT }, patientView);
    expect(status).toBe(200);
    const text = JSON.stringify(body['cards']);
    expect(text).toContain('ANC 0.2');
    expect(requests).toBeGreaterThan(1);
  }, 60_000);

  test('a certificate no CA vouches for: 412, the server could not be reached, no data read', async () => {
    requests = 0;
    const { status, body } = await withService({}, patientView);
    expect(status).toBe(412);
    const issue = (body['issue'] as { diagnostics?: string }[])[0];
    expect(issue?.diagnostics).toMatch(/observations: fhirServer could not be reached for Observation search/);
    expect(requests).toBe(0); // TLS failed before any request reached the server
  }, 60_000);

  test('NODE_TLS_REJECT_UNAUTHORIZED=0 does not turn verification off for fhirServer (412), and start-up warns', async () => {
    requests = 0;
    const logs: string[] = [];
    const { status } = await withService({ NODE_TLS_REJECT_UNAUTHORIZED: '0' }, patientView, logs);
    expect(status).toBe(412);
    expect(requests).toBe(0);
    expect(logs.join('')).toContain('NODE_TLS_REJECT_UNAUTHORIZED=0: Node skips certificate checks for the JWKS URLs');
  }, 60_000);
});
