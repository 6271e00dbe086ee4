/**
 * POST /assessments and the CLI on single Bundles: the contract's field names, bad input.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';
import type { FhirResource, Reference } from 'fhir/r4.js';
import fc from 'fast-check';
import request from 'supertest';
import { demoPatients } from '../../src/demo/demo-patients.js';
import { buildTestApp } from '../helpers/app.js';

const TODAY = '2026-11-22';
const aplastic = demoPatients(TODAY).find((p) => p.scenario.id === 'cart-aplastic');
const bundle = (type = 'collection') => ({
  resourceType: 'Bundle',
  type,
  entry: (aplastic?.resources ?? []).map((resource) => ({ resource })),
});

/**
 * The same patient as a FHIR client writes a transaction (Synthea, EHR exports): no ids, every
 * entry known by a urn:uuid fullUrl, references by those URNs, and each drug as a Medication entry
 * that the administration names by reference.
 */
function asTransaction(urnOf = new Map<string, string>()): {
  resourceType: 'Bundle';
  type: 'transaction';
  entry: unknown[];
} {
  const resources = aplastic?.resources ?? [];
  for (const r of resources) urnOf.set(`${r.resourceType}/${r.id ?? ''}`, `urn:uuid:${randomUUID()}`);
  const entry: unknown[] = [];
  const add = (resource: object, fullUrl = `urn:uuid:${randomUUID()}`): void => {
    entry.push({ fullUrl, resource, request: { method: 'POST', url: (resource as FhirResource).resourceType } });
  };
  for (const r of resources) {
    const { id, ...resource } = r as FhirResource & { subject?: Reference; patient?: Reference };
    if (resource.subject?.reference) resource.subject = { reference: urnOf.get(resource.subject.reference) ?? '' };
    if (resource.patient?.reference) resource.patient = { reference: urnOf.get(resource.patient.reference) ?? '' };
    if (resource.resourceType === 'MedicationAdministration' && resource.medicationCodeableConcept) {
      const medication = `urn:uuid:${randomUUID()}`;
      add({ resourceType: 'Medication', code: resource.medicationCodeableConcept }, medication);
      delete resource.medicationCodeableConcept;
      resource.medicationReference = { reference: medication };
    }
    add(resource, urnOf.get(`${r.resourceType}/${id ?? ''}`));
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** What a clinician is told about the patient, without the references to the values: the same whatever the Bundle's ids. */
const clinicalOutcome = (a: Record<string, unknown>) =>
  JSON.parse(JSON.stringify(outcome(a), (key, value: unknown) => (key === 'reference' ? undefined : value))) as unknown;
const outcome = (a: Record<string, unknown>) => ({
  sex: a['sex'],
  infusionDate: a['infusionDate'],
  dayPostInfusion: a['dayPostInfusion'],
  ctcae: a['ctcae'],
  icaht: a['icaht'],
  hematotox: a['hematotox'],
  prolongedHematologicToxicity: a['prolongedHematologicToxicity'],
  recommendations: (a['recommendations'] as { kind: string; urgency: string }[]).map((r) => [r.kind, r.urgency]),
  notRead: (a['issues'] as { code: string }[]).filter((i) =>
    ['patient-mismatch', 'medication-unknown'].includes(i.code),
  ),
});

describe('POST /assessments', () => {
  const { app } = buildTestApp();

  test('a transaction Bundle by urn:uuid (no ids, drugs by reference) gives the same assessment as by ids', async () => {
    const urnOf = new Map<string, string>();
    const transaction = asTransaction(urnOf);
    expect(JSON.stringify(transaction)).not.toContain('cart-aplastic'); // nothing left to find the patient by but the URNs
    const res = await request(app).post(`/assessments?asOf=${TODAY}`).send(transaction).expect(200);
    const byIds = await request(app).post(`/assessments?asOf=${TODAY}`).send(bundle()).expect(200);
    expect(clinicalOutcome(byIds.body)).toMatchObject({ infusionDate: '2026-10-18', dayPostInfusion: 35, notRead: [] });
    expect(clinicalOutcome(res.body)).toEqual(clinicalOutcome(byIds.body));
    // Resources sent without an id are known by the UUID of their fullUrl: the patient, and each value the assessment names.
    const uuidOf = (reference: string) => urnOf.get(reference)?.slice('urn:uuid:'.length);
    expect(res.body.patientId).toBe(uuidOf('Patient/cart-aplastic'));
    expect(byIds.body.ctcae.neutrophils.latestValue.reference).toBe('Observation/cart-aplastic-anc-33');
    expect(res.body.ctcae.neutrophils.latestValue.reference).toBe(
      `Observation/${uuidOf('Observation/cart-aplastic-anc-33')}`,
    );
  });

  test.each(['collection', 'searchset', 'transaction'])(
    'a %s Bundle returns the assessment with the contract fields',
    async (type) => {
      const res = await request(app).post(`/assessments?asOf=${TODAY}`).send(bundle(type)).expect(200);
      expect(res.body).toMatchObject({
        patientId: 'cart-aplastic',
        asOf: TODAY,
        infusionDate: '2026-10-18',
        dayPostInfusion: 35,
        ctcae: {
          neutrophils: { latest: expect.any(Number), worst: 4 },
          platelets: { worst: expect.any(Number) },
          hemoglobin: {},
          wbc: {},
          lymphocytes: {},
        },
        severeCytopenias: expect.arrayContaining([
          expect.objectContaining({
            lineage: 'neutrophil',
            newOnset: true,
            onsetDay: expect.any(Number),
            nadir: expect.any(Number),
            nadirDay: expect.any(Number),
            recoveryDay: null,
            durationDays: expect.any(Number),
            ongoing: true,
          }),
        ]),
        prolongedHematologicToxicity: true,
        icaht: {
          early: { grade: expect.any(Number), daysAnc500: expect.any(Number), daysAnc100: expect.any(Number) },
          late: { grade: null },
          thrombocytopenia: { early: { grade: expect.any(Number) }, late: {} },
          phenotype: 'aplastic',
        },
        hematotox: { score: expect.any(Number), risk: 'high', components: expect.any(Object), missing: [] },
        immunoglobulins: {
          IgG: {
            baseline: expect.any(Object),
            latest: expect.any(Object),
            changePct: expect.any(Number),
            belowIvigThreshold: false,
          },
          IgA: {},
          IgM: {},
        },
        bCellAplasia: { present: true, onsetDay: expect.any(Number) },
        cd4cd8: { inverted: expect.any(Boolean) },
        recommendations: expect.arrayContaining([
          expect.objectContaining({
            kind: 'cytopenia-workup',
            reason: expect.any(String),
            threshold: expect.any(Object),
            source: expect.any(Object),
            evidence: expect.any(Array),
          }),
        ]),
        issues: expect.any(Array),
      });
      expect(res.body.series).toBeUndefined();
    },
  );

  test('series=true adds chartable lab days and events', async () => {
    const res = await request(app).post(`/assessments?asOf=${TODAY}&series=true`).send(bundle()).expect(200);
    expect(res.body.series.anc.length).toBeGreaterThan(30);
    expect(res.body.events.some((e: { kind: string }) => e.kind === 'car-t')).toBe(true);
  });

  test('infusionDate overrides day 0', async () => {
    const res = await request(app)
      .post(`/assessments?asOf=${TODAY}&infusionDate=2026-10-20`)
      .send(bundle())
      .expect(200);
    expect(res.body.dayPostInfusion).toBe(33);
  });

  test.each([
    ['not a Bundle', { resourceType: 'Patient' }, 'resourceType'],
    ['a history Bundle', { resourceType: 'Bundle', type: 'history' }, 'type'],
    ['entry not a list', { resourceType: 'Bundle', type: 'collection', entry: { resource: { id: 'x' } } }, 'entry'],
  ])('400 naming the field for %s', async (_name, body, field) => {
    const res = await request(app).post('/assessments').send(body).expect(400);
    expect(res.body.issue.some((i: { expression?: string[] }) => i.expression?.includes(field))).toBe(true);
  });

  test('a history Bundle: the 400 lists every type taken (document and the responses too)', async () => {
    const res = await request(app).post('/assessments').send({ resourceType: 'Bundle', type: 'history' }).expect(400);
    expect(res.body.issue[0].diagnostics).toContain(
      'must be collection, searchset, transaction, batch, document, transaction-response or batch-response',
    );
  });

  test('a resource without a resource type, or with a malformed element, is left out and listed; the rest is assessed', async () => {
    const good = bundle();
    const entries = [
      ...(good.entry ?? []),
      { resource: { id: 'x' } },
      {
        resource: {
          resourceType: 'Observation',
          id: 'bad-1',
          status: 'final',
          code: { coding: 'not a list' },
          subject: { reference: 'Patient/cart-aplastic' },
        },
      },
    ];
    const res = await request(app)
      .post(`/assessments?asOf=${TODAY}`)
      .send({ ...good, entry: entries })
      .expect(200);
    const invalid = res.body.issues.filter((i: { code: string }) => i.code === 'resource-invalid');
    expect(invalid).toEqual([
      {
        severity: 'warning',
        code: 'resource-invalid',
        message: 'not a FHIR resource (no resourceType); left out',
        resource: 'resource',
      },
      {
        severity: 'warning',
        code: 'resource-invalid',
        message: 'code.coding: Invalid input: expected array, received string; resource left out',
        resource: 'Observation/bad-1',
      },
    ]);
    const clean = await request(app).post(`/assessments?asOf=${TODAY}`).send(good).expect(200);
    expect(res.body.icaht).toEqual(clean.body.icaht);
  });

  test('a Bundle of 100,000 malformed entries: 50 listed and the rest counted, not 100,000 issues back', async () => {
    const good = bundle();
    const junk = Array.from({ length: 100_000 }, () => ({ resource: { id: 'x' } }));
    const res = await request(app)
      .post(`/assessments?asOf=${TODAY}`)
      .send({ ...good, entry: [...(good.entry ?? []), ...junk] })
      .expect(200);
    const invalid = res.body.issues.filter((i: { code: string }) => i.code === 'resource-invalid');
    expect(invalid).toHaveLength(50);
    expect(res.body.issues.at(-1)).toEqual({
      severity: 'warning',
      code: 'issues-not-listed',
      message: '99,950 more not listed (resource-invalid: 99,950); the first 50 of each kind are listed',
    });
    expect(res.text.length).toBeLessThan(100_000); // 100,000 issues were about 13 MB
    const clean = await request(app).post(`/assessments?asOf=${TODAY}`).send(good).expect(200);
    expect(res.body.icaht).toEqual(clean.body.icaht);
  });

  test('60 malformed Observations before a CAR-T administration that cannot be read: the CAR-T record is still listed', async () => {
    const good = bundle();
    const patient = good.entry.find((e) => e.resource.resourceType === 'Patient');
    const labs = Array.from({ length: 60 }, (_, i) => ({
      resource: {
        resourceType: 'Observation',
        id: `bad-${i}`,
        status: 'final',
        code: { coding: 'not a list' },
        subject: { reference: 'Patient/cart-aplastic' },
      },
    }));
    // NDC 0078-0846-19: tisagenlecleucel (car-t-product), dated by a number instead of a dateTime.
    const carT = {
      resource: {
        resourceType: 'MedicationAdministration',
        id: 'car-t-unread',
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
        subject: { reference: 'Patient/cart-aplastic' },
        effectiveDateTime: 20261117,
      },
    };
    const res = await request(app)
      .post(`/assessments?asOf=${TODAY}`)
      .send({ resourceType: 'Bundle', type: 'collection', entry: [patient, ...labs, carT] })
      .expect(200);
    expect(res.body.infusionDate).toBeNull();
    const listed = res.body.issues.map((i: { resource?: string; code: string }) => i.resource ?? i.code);
    expect(listed).toContain('MedicationAdministration/car-t-unread');
    expect(listed.filter((r: string) => r.startsWith('Observation/'))).toHaveLength(50);
    expect(res.body.issues.at(-1).message).toBe(
      '10 more not listed (resource-invalid: 10); the first 50 of each kind are listed',
    );
  });

  test('400 naming a query parameter the API does not have (a misspelt infusionDate is not ignored)', async () => {
    // Ignored, `infusiondate=` would assess from the latest recorded infusion instead of the day asked for.
    const res = await request(app)
      .post(`/assessments?asOf=${TODAY}&infusiondate=2026-11-01`)
      .send(bundle())
      .expect(400);
    expect(res.body.issue).toEqual([
      {
        severity: 'error',
        code: 'invalid',
        diagnostics:
          'query: unknown parameter "infusiondate"; the parameters are asOf, infusionDate, patientId and series',
        expression: ['query'],
      },
    ]);
    // A name of any length is quoted in part, escaped as JSON.
    const long = await request(app)
      .post(`/assessments?${'x'.repeat(5000)}%0A=1`)
      .send(bundle())
      .expect(400);
    expect(long.body.issue[0].diagnostics).toMatch(/^query: unknown parameter "x{40}…"; the parameters are/);
    // Given twice, a parameter is a list: refused, not one of the two taken at random.
    const twice = await request(app).post(`/assessments?asOf=${TODAY}&asOf=2026-11-01`).send(bundle()).expect(400);
    expect(twice.body.issue[0]).toMatchObject({
      expression: ['query.asOf'],
      diagnostics: 'query.asOf: given more than once; give it once',
    });
    const series = await request(app).post(`/assessments?series=true&series=true`).send(bundle()).expect(400);
    expect(series.body.issue[0].diagnostics).toBe('query.series: given more than once; give it once');
  });

  test('property: any query string is answered 200 or 400 (never a 500), and a 400 names the query', async () => {
    const small = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }],
    };
    const name = fc.oneof(
      fc.constantFrom('asOf', 'infusionDate', 'patientId', 'series', '__proto__', 'a[b]'),
      fc.string(),
    );
    const value = fc.oneof(fc.constantFrom(TODAY, 'true', 'false', 'p1', ''), fc.string());
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 4 }), async (pairs) => {
        const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const res = await request(app).post(`/assessments?${query}`).send(small);
        expect([200, 400]).toContain(res.status);
        if (res.status === 400) expect(res.body.issue[0].expression?.[0] ?? '').toMatch(/^(query|\(body\))/);
      }),
      { numRuns: 200 },
    );
  });

  test('400 for a bad asOf and for resources of two patients', async () => {
    const bad = await request(app).post('/assessments?asOf=yesterday').send(bundle()).expect(400);
    expect(bad.body.issue[0].expression).toEqual(['query.asOf']);
    // A date that does not exist is refused too (Date.parse alone takes 2026-02-30 as 2 March).
    for (const query of ['asOf=2026-02-30', 'asOf=2026-11-31', 'infusionDate=2025-02-29']) {
      const res = await request(app).post(`/assessments?${query}`).send(bundle()).expect(400);
      expect(res.body.issue[0].diagnostics).toMatch(/must be a date/);
    }
    await request(app).post('/assessments?asOf=2028-02-29').send(bundle()).expect(200); // a leap day
    const two = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'a' } }, { resource: { resourceType: 'Patient', id: 'b' } }],
    };
    const res = await request(app).post('/assessments').send(two).expect(400);
    expect(res.body.issue[0].diagnostics).toContain('2 patients');
  });
});

describe('CLI on a Bundle file', () => {
  const run = promisify(execFile);
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/assess.ts', ...args]);

  test('writes one assessment as JSON', async () => {
    const file = join(dir, 'bundle.json');
    writeFileSync(file, JSON.stringify(bundle()));
    const { stdout, stderr } = await cli('assess', file, '--as-of', TODAY);
    expect(JSON.parse(stdout)).toMatchObject({ patientId: 'cart-aplastic', dayPostInfusion: 35 });
    expect(stderr).toContain('assessed 1 patient(s)');
  }, 30_000);

  test('a Bundle file of 2,000 malformed entries: the JSON lists 50 and counts the rest; the CSV counts all', async () => {
    const good = bundle();
    const file = join(dir, 'junk.json');
    const junk = Array.from({ length: 2000 }, () => ({ resource: { id: 'x' } }));
    writeFileSync(file, JSON.stringify({ ...good, entry: [...(good.entry ?? []), ...junk] }));
    const json = JSON.parse((await cli('assess', file, '--as-of', TODAY)).stdout);
    expect(json.issues.filter((i: { code: string }) => i.code === 'resource-invalid')).toHaveLength(50);
    expect(json.issues.at(-1).message).toBe(
      '1,950 more not listed (resource-invalid: 1,950); the first 50 of each kind are listed',
    );
    const [header, row] = (await cli('assess', file, '--as-of', TODAY, '--format', 'csv')).stdout.trim().split('\n');
    const column = header?.split(',').indexOf('issues') ?? -1;
    expect(row?.split(',')[column]).toBe('2000');
  }, 30_000);

  test('a transaction Bundle by urn:uuid: the patient is assessed, not left out', async () => {
    const file = join(dir, 'transaction.json');
    writeFileSync(file, JSON.stringify(asTransaction()));
    const { stdout } = await cli('assess', file, '--as-of', TODAY);
    expect(clinicalOutcome(JSON.parse(stdout))).toMatchObject({
      infusionDate: '2026-10-18',
      dayPostInfusion: 35,
      notRead: [],
    });
  }, 30_000);

  test('writes CSV with one row per patient', async () => {
    const file = join(dir, 'bundle2.json');
    writeFileSync(file, JSON.stringify(bundle()));
    const { stdout } = await cli('assess', file, '--as-of', TODAY, '--format', 'csv');
    const [header, row] = stdout.trim().split('\n');
    expect(header?.split(',')).toEqual(
      expect.arrayContaining([
        'patientId',
        'icahtEarly',
        'prolongedHematologicToxicity',
        'carHematotoxScore',
        'recommendations',
      ]),
    );
    expect(row).toContain('cart-aplastic');
  }, 30_000);

  test('exits 2 with a message for a file that is not a Bundle, 1 for bad usage', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"resourceType":"Patient"}');
    await expect(cli('assess', file)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('resourceType'),
    });
    await expect(cli('frobnicate')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Usage') });
  }, 30_000);

  test('a --out that cannot be written fails at once, exit 2, with the reason and no stack', async () => {
    const file = join(dir, 'bundle3.json');
    writeFileSync(file, JSON.stringify(bundle()));
    for (const [out, why] of [
      [join(dir, 'missing-folder', 'out.csv'), 'ENOENT'],
      [dir, 'it is a directory'],
      ['/dev/full', 'ENOSPC'],
    ] as const) {
      const failed = cli('assess', file, '--as-of', TODAY, '--out', out);
      await expect(failed).rejects.toMatchObject({ code: 2, stderr: `cannot write ${out}: ${why}\n` });
    }
  }, 30_000);

  test('standard output that cannot take the data: exit 2 with the reason; closed by its reader: exit 141 quietly', async () => {
    const file = join(dir, 'bundle4.json');
    writeFileSync(file, JSON.stringify(bundle()));
    const full = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/assess.ts', 'assess', file, '--as-of', TODAY],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.destroy(); // the reader goes away before the first byte (as `| head -c 0` would)
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(full).toEqual({ code: 141, stderr: '' });
    const devFull = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'sh',
        ['-c', `"${process.execPath}" --import tsx src/cli/assess.ts assess "${file}" --as-of ${TODAY} > /dev/full`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(devFull).toEqual({ code: 2, stderr: 'cannot write standard output: ENOSPC\n' });
  }, 30_000);

  test('--out is replaced only by a complete run: a failed run leaves the file as it was, and no partial copy', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'cli-out-'));
    const out = join(outDir, 'cohort.csv');
    writeFileSync(out, 'the previous run\n');
    const bad = join(dir, 'bad2.json');
    writeFileSync(bad, '{"resourceType":"Patient"}');
    await expect(cli('assess', bad, '--out', out)).rejects.toMatchObject({ code: 2 });
    expect(readFileSync(out, 'utf8')).toBe('the previous run\n');
    expect(readdirSync(outDir)).toEqual(['cohort.csv']);
    const good = join(dir, 'bundle5.json');
    writeFileSync(good, JSON.stringify(bundle()));
    await cli('assess', good, '--as-of', TODAY, '--format', 'csv', '--out', out);
    expect(readFileSync(out, 'utf8')).toMatch(/^patientId,.*\ncart-aplastic,/s);
    expect(readdirSync(outDir)).toEqual(['cohort.csv']);
    expect(existsSync(`${out}.partial`)).toBe(false);
  }, 30_000);

  test('options are checked before any work: a time zone, a date that does not exist, exit 1 with the option named', async () => {
    const file = join(dir, 'bundle6.json');
    writeFileSync(file, JSON.stringify(bundle()));
    for (const [args, message] of [
      [
        ['--time-zone', 'Mars/Olympus'],
        '--time-zone must be an IANA time zone such as Europe/Berlin or UTC, got "Mars/Olympus"',
      ],
      [['--as-of', '2026-02-30'], '--as-of must be a date YYYY-MM-DD that exists, got "2026-02-30"'],
      [['--infusion-date', 'garbage'], '--infusion-date must be a date YYYY-MM-DD that exists, got "garbage"'],
    ] as const) {
      await expect(cli('assess', file, ...args)).rejects.toMatchObject({ code: 1, stderr: `${message}\n` });
    }
  }, 30_000);

  test('files that are not regular files are refused by name, never read: a FIFO as Bundle or thresholds, a device', async () => {
    const fifo = join(dir, 'fifo');
    await run('mkfifo', [fifo]);
    const file = join(dir, 'bundle7.json');
    writeFileSync(file, JSON.stringify(bundle()));
    await expect(cli('assess', fifo)).rejects.toMatchObject({
      code: 2,
      stderr: `cannot read ${fifo}: not a regular file\n`,
    });
    await expect(cli('assess', '/dev/zero')).rejects.toMatchObject({
      code: 2,
      stderr: 'cannot read /dev/zero: not a regular file\n',
    });
    await expect(cli('assess', file, '--thresholds', fifo)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`--thresholds: cannot read ${fifo} (not a regular file)`),
    });
  }, 30_000);

  test('--out that is the input, or inside the input folder, is refused before any work (exit 1)', async () => {
    const file = join(dir, 'bundle8.json');
    writeFileSync(file, JSON.stringify(bundle()));
    await expect(cli('assess', file, '--out', file)).rejects.toMatchObject({
      code: 1,
      stderr: `--out must not be the input or inside its folder (${file})\n`,
    });
    const inside = join(dir, 'Observation.ndjson');
    await expect(cli('assess', dir, '--out', inside)).rejects.toMatchObject({ code: 1 });
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(bundle()));
  }, 30_000);

  test('a Bundle with a byte order mark is read', async () => {
    const file = join(dir, 'bom.json');
    writeFileSync(file, `\uFEFF${JSON.stringify(bundle())}`);
    const { stdout } = await cli('assess', file, '--as-of', TODAY);
    expect(JSON.parse(stdout)).toMatchObject({ patientId: 'cart-aplastic', dayPostInfusion: 35 });
  }, 30_000);
});

describe('CLI on a Bulk Data folder: bad lines are left out and said, never the run lost', () => {
  const run = promisify(execFile);
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/assess.ts', ...args]);
  const folder = (files: Record<string, string>): string => {
    const at = mkdtempSync(join(tmpdir(), 'cli-folder-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(at, name), text);
    return at;
  };
  const lines = (type: string): string =>
    (aplastic?.resources ?? [])
      .filter((r) => r.resourceType === type)
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n';

  test('a malformed Medication (shared by every patient) is left out and counted; the patient is assessed', async () => {
    const bad = '{"resourceType":"Medication","id":"m1","code":{"coding":5}}';
    const at = folder({
      'Patient.ndjson': lines('Patient'),
      'Observation.ndjson': lines('Observation'),
      'MedicationAdministration.ndjson': lines('MedicationAdministration'),
      'Procedure.ndjson': lines('Procedure'),
      'Medication.ndjson': `${bad}\n`,
    });
    const { stdout, stderr } = await cli('assess', at, '--as-of', TODAY, '--format', 'csv');
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(stdout).toContain('cart-aplastic');
    expect(stderr).toContain(
      '1 resource(s) left out: not the shape the engine reads (first: Medication/m1 code.coding:',
    );
  }, 30_000);

  test("an administration naming that malformed Medication is in the patient's own issues: what was given is not known", async () => {
    const bad = '{"resourceType":"Medication","id":"m1","code":{"coding":5}}';
    const given = {
      resourceType: 'MedicationAdministration',
      id: 'ma-m1',
      status: 'completed',
      medicationReference: { reference: 'Medication/m1' },
      subject: { reference: 'Patient/cart-aplastic' },
      effectiveDateTime: '2026-01-05T10:00:00Z',
    };
    const at = folder({
      'Patient.ndjson': lines('Patient'),
      'Observation.ndjson': lines('Observation'),
      'MedicationAdministration.ndjson': `${lines('MedicationAdministration')}${JSON.stringify(given)}\n`,
      'Procedure.ndjson': lines('Procedure'),
      'Medication.ndjson': `${bad}\n`,
    });
    const { stdout } = await cli('assess', at, '--as-of', TODAY, '--format', 'json');
    const [assessment] = JSON.parse(stdout) as { issues: unknown[] }[];
    expect(assessment?.issues).toContainEqual({
      severity: 'warning',
      code: 'medication-unknown',
      message: 'Medication/m1 was not in the data received: what was given is not known',
      resource: 'MedicationAdministration/ma-m1',
    });
  }, 30_000);

  test('lines naming no patient are counted with where the first is; an empty Patient.ndjson is "no patient found", exit 2', async () => {
    const at = folder({
      'Patient.ndjson': lines('Patient'),
      'Observation.ndjson': `${lines('Observation')}{"resourceType":"Observation","subject":{"reference":"Group/g1"}}\nnull\n`,
      'Procedure.ndjson': lines('Procedure'),
      'Observation.ndjson.gz': 'not read',
    });
    const { stderr } = await cli('assess', at, '--as-of', TODAY, '--format', 'csv');
    const count = lines('Observation').split('\n').length; // the Group line's number
    expect(stderr).toContain(
      'Observation.ndjson.gz not read: compressed files are not read; decompress it into the folder first',
    );
    expect(stderr).toContain(
      `2 line(s) left out: no patient reference could be read, or not a resource (first: Observation.ndjson line ${count})`,
    );
    const empty = folder({ 'Patient.ndjson': '', 'Observation.ndjson': lines('Observation') });
    await expect(cli('assess', empty, '--as-of', TODAY)).rejects.toMatchObject({
      code: 2,
      stderr: `${empty}: no patient found\n`,
    });
  }, 30_000);
});
