/**
 * The SMART app's reads against hostile answers: what a FHIR server sends with HTTP 200 is read as
 * a search result only when it is one; anything else is a failed read naming the read, the request
 * and why (fhir-data.ts adds the read's name and request; the browser tests show them).
 */
import { describe, expect, test } from '@jest/globals';
import { readAnswer, readPages, UnreadableAnswer } from '../../src/smart-app/search-page.js';

const BASE = new URL('https://ehr.example.org/fhir/');

/** Reads `path` from a server answering every GET with `answer(path under BASE)`. */
const read = (path: string, answer: (path: string) => unknown): Promise<unknown[]> =>
  readPages(
    (url) => Promise.resolve(answer(url.slice(BASE.href.length))),
    BASE,
    path,
    () => undefined,
  );

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
