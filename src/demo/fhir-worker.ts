/**
 * Worker thread of the demo FHIR server: serves the in-memory repository over HTTP on a loopback
 * port, which the service forwards `/demo/fhir` to (fhir-worker-host.ts). Started only with
 * DEMO=true.
 *
 * Seeded lazily: the worker reports ready as soon as it listens; a request about a patient loads
 * that patient first, a request about no one patient loads them all first, and the rest are loaded
 * in the background meanwhile. Every answer is the one the fully seeded server would give.
 */
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { FhirResource } from 'fhir/r4.js';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { DEMO_PRACTITIONER, demoPatients } from './demo-patients.js';
import { DEMO_FHIR_PATH, DemoFhirServer } from './fhir-server.js';
import type { DemoWorkerMessage, DemoWorkerOptions } from './fhir-worker-host.js';
import { transactionBundle } from './generator.js';

const post = (message: DemoWorkerMessage): void => parentPort?.postMessage(message);

/** The demo patients not loaded yet, each loaded once, on demand or in the background. */
class LazySeed {
  private readonly waiting: Map<string, FhirResource[]>;
  private readonly loading = new Map<string, Promise<unknown>>();

  constructor(
    private readonly fhir: DemoFhirServer,
    patients: { id: string; resources: FhirResource[] }[],
  ) {
    this.waiting = new Map(patients.map((p) => [p.id, p.resources]));
  }

  patient(id: string): Promise<unknown> {
    const resources = this.waiting.get(id);
    if (!resources) return this.loading.get(id) ?? Promise.resolve();
    this.waiting.delete(id);
    const loaded = this.fhir.load(transactionBundle(resources));
    this.loading.set(id, loaded);
    return loaded;
  }

  all(): Promise<unknown> {
    return Promise.all([...[...this.waiting.keys()].map((id) => this.patient(id)), ...this.loading.values()]);
  }
}

const PATIENT_PARAMS = /^(patient|subject)(:Patient)?$/;

/** The patients a request is about, or 'all' when it is not about particular patients. */
function patientsOf(req: Request): string[] | 'all' {
  if (req.path === '/metadata') return [];
  const read = /^\/Patient\/([^/]+)/.exec(req.path);
  if (read?.[1]) return [read[1]];
  if (req.method !== 'GET') return 'all';
  const ids: string[] = [];
  for (const [name, value] of new URLSearchParams(req.originalUrl.split('?')[1] ?? ''))
    if (PATIENT_PARAMS.test(name)) ids.push(...value.split(',').map((v) => v.replace(/^.*Patient\//, '')));
  if (/^\/Patient\/?$/.test(req.path)) return 'all';
  return ids.length > 0 ? ids : 'all';
}

try {
  const options = workerData as DemoWorkerOptions;
  const fhir = new DemoFhirServer();
  await fhir.load(transactionBundle([DEMO_PRACTITIONER]));
  const patients = demoPatients(options.today).map((p) => ({ id: p.scenario.id, resources: p.resources }));
  const seed = new LazySeed(fhir, patients);
  const app = express();
  app.disable('x-powered-by');
  // Only the service forwards to this port: its X-Forwarded-Proto gives the scheme of paging links.
  app.set('trust proxy', 'loopback');
  app.use(DEMO_FHIR_PATH, (req: Request, _res: Response, next: NextFunction) => {
    const about = patientsOf(req);
    (about === 'all' ? seed.all() : Promise.all(about.map((id) => seed.patient(id)))).then(() => next(), next);
  });
  app.use(DEMO_FHIR_PATH, fhir.router(options.bodyLimit, options.maxJsonValues));
  const server = app.listen(0, '127.0.0.1', () => {
    const resources = 1 + patients.reduce((n, p) => n + p.resources.length, 0);
    post({ kind: 'ready', port: (server.address() as AddressInfo).port, resources });
    // The rest in the background, one patient at a time, so requests keep being answered.
    void (async () => {
      for (const p of patients) await seed.patient(p.id);
    })();
  });
} catch (error) {
  post({ kind: 'failed', message: (error as Error).message });
}
