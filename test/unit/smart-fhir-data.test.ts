/**
 * The SMART app's reads against hostile answers: what a FHIR server sends with HTTP 200 is read as
 * a search result only when it is one; anything else is a failed read naming the read, the request
 * and why (fhir-data.ts adds the read's name and request; the browser tests show them).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { isObject } from '../../src/fhir/resource-check.js';
import { readAnswer, readPages, UnreadableAnswer } from '../../src/smart-app/search-page.js';

const BASE = new URL('https://ehr.example.org/fhir/');

/** Reads `path` from a server answering every GET with `answer(path under BASE)`. */
const readAll = (path: string, answer: (path: string) => unknown): ReturnType<typeof readPages> =>
  readPages(
    (url) => Promise.resolve(answer(url.slice(BASE.href.length))),
    BASE,
    path,
    () => undefined,
  );
const read = async (path: string, answer: (path: string) => unknown): Promise<unknown[]> =>
  (await readAll(path, answer)).resources;

const PATHS = { patient: 'Patient/p1', observations: 'Observation?patient=p1&_count=100' };
const PATIENT = { resourceType: 'Patient', id: 'p1' };
const OBSERVATION = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'ANC' } };
const TOO_COSTLY = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'too-costly', diagnostics: 'search too costly' }],
};
const searchset = (...resources: unknown[]): unknown => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});

describe('readAnswer: a search is answered with a Bundle, anything else is a failed read', () => {
  test.each([
    [
      'an OperationOutcome (HTTP 200): its diagnostics',
      TOO_COSTLY,
      'the server answered with an OperationOutcome instead of a Bundle of search results: search too costly',
    ],
    [
      'an OperationOutcome without diagnostics: its details.text',
      { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'x', details: { text: 'timed out' } }] },
      'the server answered with an OperationOutcome instead of a Bundle of search results: timed out',
    ],
    [
      'an OperationOutcome whose issue is not a list',
      { resourceType: 'OperationOutcome', issue: 'x' },
      'the server answered with an OperationOutcome instead of a Bundle of search results',
    ],
    [
      'a bare Observation',
      OBSERVATION,
      'the server answered with an Observation instead of a Bundle of search results',
    ],
    [
      'a resource type not worth naming',
      { resourceType: '<b>x</b>' },
      'the server answered with a resource instead of a Bundle of search results',
    ],
    ['null', null, 'the server answered with something that is not a FHIR resource'],
    ['a list', [OBSERVATION], 'the server answered with something that is not a FHIR resource'],
    ['an object without resourceType', { entry: [] }, 'the server answered with something that is not a FHIR resource'],
  ])('%s', (_name, body, why) => {
    expect(() => readAnswer(body, true)).toThrow(new UnreadableAnswer(why));
  });

  test('a read (Patient/<id>) is answered with the resource itself', () => {
    expect(readAnswer(PATIENT, false)).toEqual({ resources: [PATIENT], next: undefined });
  });

  test('a searchset Bundle gives its resources and next link', () => {
    const bundle = { ...(searchset(OBSERVATION) as object), link: [{ relation: 'next', url: `${BASE.href}p2` }] };
    expect(readAnswer(bundle, true)).toEqual({ resources: [OBSERVATION], next: `${BASE.href}p2` });
  });
});

describe('readPages: a search answered with no Bundle is a failed read', () => {
  test('the Observation search answered with an OperationOutcome (HTTP 200): its diagnostics', async () => {
    await expect(read(PATHS.observations, () => TOO_COSTLY)).rejects.toThrow(
      new UnreadableAnswer(
        'the server answered with an OperationOutcome instead of a Bundle of search results: search too costly',
      ),
    );
  });

  test('the Observation search answered with one bare Observation', async () => {
    await expect(read(PATHS.observations, () => OBSERVATION)).rejects.toThrow(
      new UnreadableAnswer('the server answered with an Observation instead of a Bundle of search results'),
    );
  });

  test('the Patient read answered with the Patient is read as before', async () => {
    await expect(read(PATHS.patient, () => PATIENT)).resolves.toEqual([PATIENT]);
  });
});

describe("a malformed Bundle is a failed read saying why, by the service's rule (fhir/search-bundle.ts)", () => {
  const good = searchset(OBSERVATION) as { entry: unknown[] };
  test.each([
    ['entry an object', { ...good, entry: { resource: OBSERVATION } }, 'a Bundle whose entry is not a list'],
    ['entry [null, …]', { ...good, entry: [null, ...good.entry] }, 'a Bundle whose entry[0] is not an object'],
    [
      'an entry without a resource',
      { ...good, entry: [...good.entry, { fullUrl: 'x' }] },
      'a Bundle whose entry[1] has no resource',
    ],
    ['link an object', { ...good, link: { relation: 'next', url: 'x' } }, 'a Bundle whose link is not a list'],
    ['link [null]', { ...good, link: [null] }, 'a Bundle whose link[0] is not an object'],
    [
      'a next link whose url is a number',
      { ...good, link: [{ relation: 'next', url: 7 }] },
      "a Bundle whose next link's url is not a string",
    ],
    ['type a number', { ...good, type: 1 }, 'a Bundle whose type is not a string'],
  ])('%s', (_name, body, why) => {
    expect(() => readAnswer(body, true)).toThrow(new UnreadableAnswer(`the server answered with ${why}`));
  });

  test('an OperationOutcome entry reporting an error: the search failed, with its diagnostics', () => {
    expect(() => readAnswer(searchset(OBSERVATION, TOO_COSTLY), true)).toThrow(
      new UnreadableAnswer(
        'the server reported that the search failed (an OperationOutcome in the Bundle): search too costly',
      ),
    );
  });

  test('an OperationOutcome entry with a warning is left out, the rest read', () => {
    const warning = { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational' }] };
    expect(readAnswer(searchset(OBSERVATION, warning), true)).toEqual({ resources: [OBSERVATION], next: undefined });
  });

  test('a next link that is no URL (http://[::1) is not followed', async () => {
    const body = { ...good, link: [{ relation: 'next', url: 'http://[::1' }] };
    await expect(read(PATHS.observations, () => body)).rejects.toThrow(
      new UnreadableAnswer('the server sent a next-page link that is not a URL'),
    );
  });

  /** Bundles with any entries and links, and any JSON at all. */
  const answers = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        resourceType: fc.constantFrom('Bundle', 'OperationOutcome', 'Observation'),
        type: fc.oneof(fc.constant('searchset'), fc.jsonValue()),
        total: fc.jsonValue(),
        entry: fc.oneof(fc.array(fc.oneof(fc.jsonValue(), fc.record({ resource: fc.jsonValue() }))), fc.jsonValue()),
        link: fc.oneof(
          fc.array(
            fc.oneof(
              fc.jsonValue(),
              fc.record({ relation: fc.jsonValue(), url: fc.oneof(fc.string(), fc.jsonValue()) }),
            ),
          ),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: ['resourceType'] },
    ),
  );

  test("any answer gives resources (objects, screened later like the cards' ones) or an UnreadableAnswer, never another error", async () => {
    await fc.assert(
      fc.asyncProperty(answers, fc.boolean(), async (body, search) => {
        const path = search ? PATHS.observations : PATHS.patient;
        // The first page is the hostile answer; any page a next link leads to is empty.
        const outcome = await read(path, (p) => (p === path ? body : searchset())).catch((e: unknown) => e);
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(UnreadableAnswer);
        else for (const r of outcome as unknown[]) expect(isObject(r)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("a search whose total exceeds what it holds, with no next link, is noted (the cards' rule)", () => {
  const truncated = (total: unknown, ...resources: unknown[]): unknown => ({
    ...(searchset(...resources) as object),
    total,
  });
  const note = (total: string, held: string): unknown => ({
    severity: 'warning',
    code: 'data-unavailable',
    message: `the EHR's Observation search reports ${total} results but holds ${held}, with no link to the rest: assessed on those it holds`,
  });
  const obs = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ ...OBSERVATION, id: `o${i}` }));

  test.each([
    ['100,000 reported, 109 held', truncated(100_000, ...obs(109)), [note('100,000', '109')]],
    ['2 reported, 1 held', truncated(2, OBSERVATION), [note('2', '1')]],
    ['1 reported, 1 held', truncated(1, OBSERVATION), []],
    ['0 reported, 1 held (more than reported is no truncation)', truncated(0, OBSERVATION), []],
    ['no total', searchset(OBSERVATION), []],
    ['a total that is not a number', truncated('100', OBSERVATION), []],
    ['a total beyond safe integers', truncated(2 ** 60, OBSERVATION), []],
  ])('%s', async (_name, body, issues) => {
    await expect(readAll(PATHS.observations, () => body)).resolves.toMatchObject({ issues });
  });

  test('pages counted together: total 3 over two pages of 2 and 1 is complete, total 4 is short by one', async () => {
    const pages = (total: number) => (path: string) =>
      path === PATHS.observations
        ? { ...(truncated(total, ...obs(2)) as object), link: [{ relation: 'next', url: 'page2' }] }
        : truncated(total, OBSERVATION);
    await expect(readAll(PATHS.observations, pages(3))).resolves.toMatchObject({ issues: [] });
    await expect(readAll(PATHS.observations, pages(4))).resolves.toMatchObject({ issues: [note('4', '3')] });
  });

  test('a read answered with a Bundle is not a search: its total says nothing', async () => {
    await expect(readAll(PATHS.patient, () => truncated(5, PATIENT))).resolves.toEqual({
      resources: [PATIENT],
      issues: [],
    });
  });
});
