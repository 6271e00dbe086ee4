/**
 * Same inputs, same assessments: the paths issue 13 made fast against the reference paths, in the
 * same run (so the test holds while demo patients and grades change).
 *  - The CLI streaming a Bulk Data export to worker threads, against assess() over the export read
 *    whole in this process (the former CLI path), for an export in patient order and a shuffled one.
 *  - patient-view reading from fhirServer (Observation searches split by code group, in parallel)
 *    against the same call with the full prefetch, for every demo patient.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { assess } from '../../src/clinical/assess.js';
import type { Assessment } from '../../src/clinical/types.js';
import { writeBulkExport } from '../../src/demo/bulk-export.js';
import { DEMO_SCENARIOS } from '../../src/demo/demo-patients.js';
import { generateCohort } from '../../src/demo/generator.js';
import { groupByPatient } from '../../src/fhir/bundle.js';
import { screenResources } from '../../src/fhir/resource-schemas.js';
import { engineSettings, loadClinicalContext } from '../../src/profiles.js';
import { buildTestApp, hookRequest } from '../helpers/app.js';
import { fullPrefetch, type DiscoveredService } from '../helpers/ehr.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

const TODAY = '2026-11-22';
const run = promisify(execFile);

/** The former CLI path: every line parsed here, screened, grouped by patient, assessed in the order of Patient.ndjson. */
function assessWhole(folder: string): Assessment[] {
  const lines = readdirSync(folder)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => readFileSync(join(folder, f), 'utf8').split('\n'))
    .filter((l) => l.trim());
  const screened = screenResources(lines.map((l) => JSON.parse(l) as unknown));
  const settings = engineSettings(loadClinicalContext({ timeZone: 'UTC' }));
  const groups = groupByPatient(screened.resources);
  const order = readFileSync(join(folder, 'Patient.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { id: string }).id);
  return order.map((patientId) => assess(groups.get(patientId) ?? [], { asOf: TODAY, patientId, ...settings }));
}

async function cli(folder: string): Promise<{ assessments: Assessment[]; stderr: string }> {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/assess.ts', 'assess', folder, '--as-of', TODAY, '--format', 'json'],
    { maxBuffer: 1 << 30 },
  );
  return { assessments: JSON.parse(stdout) as Assessment[], stderr };
}

describe('the CLI (streamed, worker threads) assesses a cohort as assess() over the export read whole', () => {
  let ordered: string;
  let shuffled: string;
  beforeAll(async () => {
    const cohort = generateCohort({ n: 40, seed: 13, today: TODAY, followUpDays: 60 });
    ordered = mkdtempSync(join(tmpdir(), 'golden-'));
    // Patients written last id first: the CLI writes them in the order of Patient.ndjson, not by id.
    await writeBulkExport(ordered, cohort.resources.reverse().flat());
    // The same export with every file but Patient.ndjson in reverse: not in the order of its patients.
    shuffled = mkdtempSync(join(tmpdir(), 'golden-shuffled-'));
    for (const f of readdirSync(ordered)) {
      const lines = readFileSync(join(ordered, f), 'utf8').trim().split('\n');
      if (f !== 'Patient.ndjson') lines.reverse();
      writeFileSync(join(shuffled, f), `${lines.join('\n')}\n`);
    }
  }, 60_000);

  test('an export written patient by patient', async () => {
    const { assessments, stderr } = await cli(ordered);
    expect(stderr).toContain('assessed 40 patient(s)');
    expect(stderr).not.toContain('reading it whole');
    expect(assessments.map((a) => a.patientId).slice(0, 2)).toEqual(['cohort-0040', 'cohort-0039']);
    expect(assessments).toEqual(assessWhole(ordered));
  }, 120_000);

  test('an export in any other order (read whole, same assessments)', async () => {
    const { assessments, stderr } = await cli(shuffled);
    expect(stderr).toContain('reading it whole');
    expect(assessments).toEqual(assessWhole(ordered));
  }, 120_000);
});

describe('patient-view: fetched from fhirServer (split, parallel searches) gives the cards of the full prefetch', () => {
  let fhir: TestFhirServer;
  const t = buildTestApp();
  let service: DiscoveredService;
  beforeAll(async () => {
    fhir = await serveFhir(await seededDemo());
    const discovery = (await request(t.app).get('/cds-services').expect(200)).body as { services: DiscoveredService[] };
    service = discovery.services.find((s) => s.id === PATIENT_VIEW_ID) as DiscoveredService;
  }, 60_000);
  afterAll(async () => {
    await fhir.close();
  });

  test.each(DEMO_SCENARIOS.map((s) => s.id))('%s', async (patientId) => {
    const prefetch = await fullPrefetch(service, fhir.baseUrl, { patientId });
    const call = (extra: Record<string, unknown>) =>
      request(t.app)
        .post(`/cds-services/${PATIENT_VIEW_ID}`)
        .send(hookRequest('patient-view', patientId, extra))
        .expect(200);
    const prefetched = await call({ prefetch });
    const fetched = await call({ fhirServer: fhir.baseUrl });
    expect(fetched.body).toEqual(prefetched.body);
  });
});
