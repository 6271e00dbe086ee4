/**
 * fhirServer and prefetch answers of the wrong shape or encoding, over real HTTP: the real express
 * app (listening on a port) reads a hostile fake FHIR server. A search answered with something other
 * than a Bundle, a Bundle whose entry is no list of objects, a body in a charset we do not read or
 * in bytes that are not UTF-8: each is a named 412 (or 400 for the client's own prefetch), never a
 * record read as empty. A byte order mark and UTF-16 are read as the plain body is.
 */
import { describe, expect, test } from '@jest/globals';
import { buildTestApp, listenDuringTests, hookRequest } from '../helpers/app.js';
import { anc, infusion } from '../helpers/fhir.js';
import { hostileFhir, type HostileFhirServer, type HostileMode, type HostileOptions } from '../helpers/hostile-fhir.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
const PRECONDITION = 'Required FHIR data could not be obtained from prefetch or fhirServer: ';
const { app } = buildTestApp({
  env: { FHIR_TIMEOUT_MS: '1500', FHIR_MAX_RESPONSE_BYTES: '4mb', FHIR_MAX_CALL_BYTES: '6mb' },
});
const listening = listenDuringTests(app);

interface Answer {
  status: number;
  body: { issue?: { diagnostics?: string; expression?: string[] }[]; cards?: unknown[] };
}

async function callPatientView(request: Record<string, unknown>, patientId = 'p1'): Promise<Answer> {
  const res = await fetch(`${listening.url()}${SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(hookRequest('patient-view', patientId, request)),
  });
  return { status: res.status, body: (await res.json()) as never };
}

async function withHostile<T>(options: HostileOptions, run: (fhir: HostileFhirServer) => Promise<T>): Promise<T> {
  const fhir = await hostileFhir({ mode: 'normal', ...options });
  try {
    return await run(fhir);
  } finally {
    await fhir.close();
  }
}

/** An infusion and a severe neutropenia: a record that gives cards. */
const RECORD = [infusion(0), anc(1, 0.3), anc(2, 0.2)];
const EMPTY = { resourceType: 'Bundle', type: 'searchset', entry: [] };

/** The Observation searches answered in `mode`: the call is a 412 naming the observations key and why. */
async function observationSearchFails(mode: HostileMode, why: string): Promise<void> {
  await withHostile({ paths: { Observation: mode }, resources: RECORD }, async (fhir) => {
    const res = await callPatientView({ fhirServer: fhir.baseUrl });
    expect(res).toMatchObject({
      status: 412,
      body: {
        issue: [{ diagnostics: `${PRECONDITION}observations: ${why}`, expression: ['prefetch.observations'] }],
      },
    });
  });
}

describe('a search answered 200 with something other than a Bundle is not the record', () => {
  test.each<[HostileMode, string]>([
    [
      'outcome-200',
      'fhirServer answered Observation search with an OperationOutcome instead of a Bundle: the search failed',
    ],
    ['patient-for-search', 'fhirServer answered Observation search with a Patient, not a Bundle'],
  ])('%s → 412: %s', observationSearchFails);

  test.each<[string, unknown, string]>([
    [
      'a Parameters',
      { resourceType: 'Parameters' },
      'the prefetch value for this search is a Parameters, not a Bundle',
    ],
    [
      'a Patient',
      { resourceType: 'Patient', id: 'p1' },
      'the prefetch value for this search is a Patient, not a Bundle',
    ],
    ['an empty resourceType', { resourceType: '' }, 'the prefetch value for this search is a resource, not a Bundle'],
    [
      // Was "not prefetched", which it was (a helper's probe).
      'a Bundle with a next link',
      {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [{ relation: 'next', url: 'https://ehr.example.org/fhir/Observation?page=2' }],
        entry: [],
      },
      'the prefetch Bundle has more pages (a next link) that only fhirServer could give',
    ],
  ])("%s as a search key's prefetch, no fhirServer: 412 naming the key and why", async (_what, value, why) => {
    const res = await callPatientView({
      prefetch: {
        patient: null,
        observations: value,
        medicationAdministrations: EMPTY,
        procedures: EMPTY,
        conditions: EMPTY,
      },
    });
    expect(res).toMatchObject({
      status: 412,
      body: {
        issue: [
          {
            diagnostics: `${PRECONDITION}observations: ${why} and no fhirServer was given`,
            expression: ['prefetch.observations'],
          },
        ],
      },
    });
  });

  test("a Patient as a search key's prefetch, with a fhirServer: the key is read from fhirServer instead", async () => {
    await withHostile({ resources: RECORD }, async (fhir) => {
      const res = await callPatientView({
        fhirServer: fhir.baseUrl,
        prefetch: {
          patient: { resourceType: 'Patient', id: 'p1' },
          observations: { resourceType: 'Patient', id: 'p1' },
          medicationAdministrations: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[0] }] },
          procedures: EMPTY,
          conditions: EMPTY,
        },
      });
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body.cards)).toContain('ANC 0.2');
      expect([...new Set(fhir.requests.map((r) => r.url.split('?')[0]))]).toEqual(['/fhir/Observation']);
    });
  });

  test("an Observation as the patient key's prefetch is not the patient: the Patient is read from fhirServer", async () => {
    await withHostile({ resources: RECORD }, async (fhir) => {
      const res = await callPatientView({
        fhirServer: fhir.baseUrl,
        prefetch: {
          patient: RECORD[1],
          observations: {
            resourceType: 'Bundle',
            type: 'searchset',
            entry: RECORD.slice(1).map((r) => ({ resource: r })),
          },
          medicationAdministrations: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[0] }] },
          procedures: EMPTY,
          conditions: EMPTY,
        },
      });
      expect(res.status).toBe(200);
      expect(fhir.requests.map((r) => r.url)).toEqual(['/fhir/Patient/p1']);
    });
  });
});

describe("a Bundle as the patient key's prefetch (a client that runs reads as searches)", () => {
  const observations = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: RECORD.slice(1).map((r) => ({ resource: r })),
  };
  const administrations = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[0] }] };
  const patientIn = (...resources: unknown[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });

  test('holding the Patient: taken, nothing read from fhirServer', async () => {
    await withHostile({ resources: RECORD }, async (fhir) => {
      const res = await callPatientView({
        fhirServer: fhir.baseUrl,
        prefetch: {
          patient: patientIn({ resourceType: 'Patient', id: 'p1' }),
          observations,
          medicationAdministrations: administrations,
          procedures: EMPTY,
          conditions: EMPTY,
        },
      });
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body.cards)).toContain('ANC 0.2');
      expect(fhir.requests).toEqual([]);
    });
  });

  test('holding anything else: not the patient, the Patient is read from fhirServer (before: taken as entries)', async () => {
    await withHostile({ resources: RECORD }, async (fhir) => {
      const res = await callPatientView({
        fhirServer: fhir.baseUrl,
        prefetch: {
          patient: patientIn({ resourceType: 'Patient', id: 'p1' }, RECORD[1]),
          observations,
          medicationAdministrations: administrations,
          procedures: EMPTY,
          conditions: EMPTY,
        },
      });
      expect(res.status).toBe(200);
      expect(fhir.requests.map((r) => r.url)).toEqual(['/fhir/Patient/p1']);
    });
  });

  test('holding anything else, no fhirServer: assessed without the patient, and the cards say why', async () => {
    const res = await callPatientView({
      prefetch: {
        patient: patientIn(RECORD[1]),
        observations,
        medicationAdministrations: administrations,
        procedures: EMPTY,
        conditions: EMPTY,
      },
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body.cards)).toContain(
      'Patient could not be read (the prefetch value is a Bundle holding an Observation, not only the Patient this key reads and no fhirServer was given); assessed without it.',
    );
  });
});

describe('a read answered with something other than the resource read is not that resource, as in the prefetch', () => {
  /** What the hostile server answers the Patient read with: a recovered ANC, the latest of the record. */
  const LATEST_ANC = anc(3, 4.2, { id: 'read-answer' });
  const FAILED = 'fhirServer answered Patient read with an OperationOutcome instead of a Patient: the read failed';

  // Before: the Observation was taken as data (its ANC 4.2 the latest), and an OperationOutcome
  // left the Patient missing without a word.
  test.each<[HostileMode, string]>([
    ['wrong-resource', 'fhirServer answered Patient read with an Observation, not a Patient'],
    [
      'wrong-resource-in-bundle',
      'fhirServer answered Patient read with a Bundle holding an Observation, not only a Patient',
    ],
    ['outcome-200', FAILED],
    ['outcome-200-information', FAILED],
  ])('Patient read answered %s: not used, and every card says why', async (mode, why) => {
    await withHostile({ paths: { 'Patient/': mode }, resources: RECORD, wrongResource: LATEST_ANC }, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl });
      expect(res.status).toBe(200);
      const cards = (res.body.cards ?? []) as { detail: string }[];
      expect(cards.length).toBeGreaterThan(0);
      for (const card of cards)
        expect(card.detail).toContain(`Patient could not be read (${why}); assessed without it.`);
      expect(JSON.stringify(cards)).not.toContain('4.2');
    });
  });
});

describe('fhirServer answers are decoded by the rule request bodies are decoded by', () => {
  /** The cards for RECORD served in `mode` on the Observation searches, uuids left out. */
  const cardsIn = async (mode: HostileMode): Promise<unknown[]> =>
    withHostile({ paths: { Observation: mode }, resources: RECORD }, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl });
      expect(res.status).toBe(200);
      return (res.body.cards ?? []).map((c) => ({ ...(c as object), uuid: undefined }));
    });

  test.each<HostileMode>(['bom-utf8', 'utf16'])('%s: read as the plain UTF-8 body, the same cards', async (mode) => {
    const plain = await cardsIn('normal');
    expect(JSON.stringify(plain)).toContain('ANC 0.2');
    expect(await cardsIn(mode)).toEqual(plain);
  });

  test.each<[HostileMode, string]>([
    ['latin1', 'fhirServer answered Observation search with charset iso-8859-1, not UTF-8 or UTF-16'],
    ['invalid-utf8', 'fhirServer answered Observation search with bytes that are not valid UTF-8'],
  ])('%s → 412: %s', observationSearchFails);
});

describe('a Bundle whose entry is no list of objects is invalid, from fhirServer (412) as in the prefetch (400)', () => {
  test.each<[HostileMode, string]>([
    ['entry-object', 'fhirServer answered Observation search with a Bundle whose entry is not a list'],
    ['entry-null', 'fhirServer answered Observation search with a Bundle whose entry is not a list'],
    ['entry-nested', 'fhirServer answered Observation search with a Bundle whose entry[0] is not an object'],
  ])('%s → 412: %s', observationSearchFails);

  test.each<[string, unknown[], string]>([
    ['null', [{ resource: RECORD[1] }, null], 'entry[1]: Invalid input: expected object, received null'],
    ['a string', ['Observation'], 'entry[0]: Invalid input: expected object, received string'],
    ['a list', [[{ resource: RECORD[1] }]], 'entry[0]: Invalid input: expected object, received array'],
  ])('a prefetch entry that is %s: 400 naming the entry', async (_what, entry, why) => {
    const res = await callPatientView({
      prefetch: {
        patient: null,
        observations: { resourceType: 'Bundle', type: 'searchset', entry },
        medicationAdministrations: EMPTY,
        procedures: EMPTY,
        conditions: EMPTY,
      },
    });
    const [expression] = why.split(':');
    expect(res).toMatchObject({
      status: 400,
      body: {
        issue: [{ diagnostics: `prefetch.observations.${why}`, expression: [`prefetch.observations.${expression}`] }],
      },
    });
  });
});

describe('a search entry without a resource (R4 bdl-5) makes the answer no search result, never a record read as empty', () => {
  // Before: such entries were skipped, so a search whose entries were all like that read as "no
  // blood counts since the infusion", with no "Data not used" note.
  test.each<[HostileMode, string]>([
    ['entries-empty', 'fhirServer answered Observation search with a Bundle whose entry[0] has no resource'],
    ['entries-null-resource', 'fhirServer answered Observation search with a Bundle whose entry[0] has no resource'],
    ['entries-fullurl-only', 'fhirServer answered Observation search with a Bundle whose entry[0] has no resource'],
  ])('from fhirServer, %s → 412: %s', observationSearchFails);

  const prefetchWith = (entry: unknown[]) => ({
    patient: null,
    observations: { resourceType: 'Bundle', type: 'searchset', entry },
    medicationAdministrations: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[0] }] },
    procedures: EMPTY,
    conditions: EMPTY,
  });

  test.each<[string, unknown[], string]>([
    ['{}', [{ resource: RECORD[1] }, {}], 'entry[1] has no resource'],
    ['{"resource": null}', [{ resource: null }, { resource: RECORD[2] }], 'entry[0] has no resource'],
    ['a fullUrl alone', [{ fullUrl: 'urn:uuid:1' }, { resource: RECORD[2] }], 'entry[0] has no resource'],
    ['a resource that is a string', [{ resource: 'Observation/x' }], 'entry[0] has no resource'],
  ])('in the prefetch, an entry %s, no fhirServer: 412 naming the key and why', async (_what, entry, why) => {
    const res = await callPatientView({ prefetch: prefetchWith(entry) });
    expect(res).toMatchObject({
      status: 412,
      body: {
        issue: [
          {
            diagnostics: `${PRECONDITION}observations: the prefetch value is a Bundle whose ${why} and no fhirServer was given`,
            expression: ['prefetch.observations'],
          },
        ],
      },
    });
  });

  test('in the prefetch, with a fhirServer: the key is read from fhirServer instead', async () => {
    await withHostile({ resources: RECORD }, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl, prefetch: prefetchWith([{}, {}]) });
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body.cards)).toContain('ANC 0.2');
      expect([...new Set(fhir.requests.map((r) => r.url.split('?')[0]))]).toEqual(['/fhir/Observation']);
    });
  });
});

describe('malformed paging and failure markers make a search response invalid, never "complete" or "no error"', () => {
  // Before: read as the last page (page 2 never read) or as no error, and the cards built from part of the record.
  test.each<[HostileMode, string]>([
    ['link-object', 'fhirServer answered Observation search with a Bundle whose link is not a list'],
    [
      'next-url-not-string',
      "fhirServer answered Observation search with a Bundle whose next link's url is not a string",
    ],
    [
      'outcome-issue-object',
      'fhirServer answered Observation search with a Bundle whose entry[2] is an OperationOutcome whose issue is not a list of issues',
    ],
    [
      'outcome-severity-uppercase',
      'fhirServer answered Observation search with a Bundle whose entry[2] is an OperationOutcome whose issue[0].severity is not fatal, error, warning or information',
    ],
  ])('from fhirServer, %s → 412: %s', observationSearchFails);

  const failure = (issue: unknown) => ({ resource: { resourceType: 'OperationOutcome', issue } });
  test.each<[string, Record<string, unknown>, string]>([
    [
      'a link object',
      { link: { relation: 'next', url: 'https://ehr.example.org/fhir/Observation?page=2' } },
      'link is not a list',
    ],
    [
      'a link without a relation',
      { link: [{ url: 'https://ehr.example.org/fhir/Observation?page=2' }] },
      'link[0].relation is not a string',
    ],
    ['a next url that is a number', { link: [{ relation: 'next', url: 2 }] }, "next link's url is not a string"],
    ['an empty next url', { link: [{ relation: 'next', url: '' }] }, "next link's url is empty"],
    [
      'an OperationOutcome whose issue is an object',
      { entry: [{ resource: RECORD[2] }, failure({ severity: 'error', code: 'too-costly' })] },
      'entry[1] is an OperationOutcome whose issue is not a list of issues',
    ],
    [
      'an OperationOutcome with severity ERROR',
      { entry: [failure([{ severity: 'ERROR', code: 'too-costly' }])] },
      'entry[0] is an OperationOutcome whose issue[0].severity is not fatal, error, warning or information',
    ],
  ])('in the prefetch, %s, no fhirServer: 412 naming the key and why', async (_what, fields, why) => {
    const res = await callPatientView({
      prefetch: {
        patient: null,
        observations: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[2] }], ...fields },
        medicationAdministrations: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: RECORD[0] }] },
        procedures: EMPTY,
        conditions: EMPTY,
      },
    });
    expect(res).toMatchObject({
      status: 412,
      body: {
        issue: [
          {
            diagnostics: `${PRECONDITION}observations: the prefetch value is a Bundle whose ${why} and no fhirServer was given`,
            expression: ['prefetch.observations'],
          },
        ],
      },
    });
  });
});

describe('a patientId made only of dots is no FHIR id: it would read the FHIR base itself', () => {
  test.each(['.', '..'])('patientId %s → 400 naming context.patientId; nothing is read', async (patientId) => {
    await withHostile({}, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl }, patientId);
      expect(res).toMatchObject({
        status: 400,
        body: {
          issue: [
            {
              diagnostics: 'context.patientId: must be a FHIR id ([A-Za-z0-9-.], at most 64 characters, not only dots)',
              expression: ['context.patientId'],
            },
          ],
        },
      });
      expect(fhir.requests).toEqual([]);
    });
  });

  test('a patientId with dots among other characters (a..b) is still a FHIR id', async () => {
    await withHostile({}, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl }, 'a..b');
      expect(res.status).toBe(200);
      expect(fhir.requests.map((r) => r.url)).toContain('/fhir/Patient/a..b');
    });
  });
});

describe('one search giving the same id twice, differing, with no version', () => {
  test('both reach the engine: the first is used and every card citing it says so (fetchUnion keeps one search’s own entries)', async () => {
    const record = [infusion(0), anc(2, 0.2, { id: 'dup' }), anc(2, 3.1, { id: 'dup' })];
    await withHostile({ resources: record }, async (fhir) => {
      const res = await callPatientView({ fhirServer: fhir.baseUrl });
      expect(res.status).toBe(200);
      const cards = res.body.cards as { summary: string; detail: string }[];
      const gcsf = cards.find((c) => c.summary.includes('G-CSF'));
      expect(gcsf?.detail).toContain(
        'Observation/dup is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated, amended or corrected status); the first given was used; check it before acting.',
      );
    });
  });
});
