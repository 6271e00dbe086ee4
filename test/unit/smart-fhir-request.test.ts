/**
 * The SMART app's FHIR requests are bounded in time, the answer's body included: an EHR that never
 * answers gives a named failure (then Retry), never "Reading the record…" for ever. Real HTTP
 * servers on 127.0.0.1, read with Node's fetch as the browser reads them with its own.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FHIR_REQUEST_TIMEOUT_MS, FhirHttpError, getFhirJson } from '../../src/smart-app/fhir-request.js';
import { blackHole, fakeServer } from '../helpers/servers.js';

let silent: Awaited<ReturnType<typeof blackHole>>;
let ehr: Awaited<ReturnType<typeof fakeServer>>;
beforeAll(async () => {
  silent = await blackHole();
  ehr = await fakeServer((req, res) => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
    };
    if (req.url === '/half')
      res.writeHead(200).write('{"resourceType":"Bundle",'); // and never the rest
    else if (req.url === '/500')
      json(500, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', diagnostics: 'database unavailable' }],
      });
    else if (req.url === '/401') json(401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
    else json(200, { resourceType: 'Patient', id: 'p1' });
  });
});
afterAll(async () => {
  await silent.close();
  await ehr.close();
});

const never = new AbortController().signal;

describe('getFhirJson', () => {
  test('the limit is 30 s', () => {
    expect(FHIR_REQUEST_TIMEOUT_MS).toBe(30_000);
  });

  test('a server that never answers: "no answer within …", no status', async () => {
    const error = await getFhirJson(`${silent.url}/Observation?patient=p1`, null, never, 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FhirHttpError);
    expect(error).toMatchObject({ status: undefined, message: 'no answer within 0.3 s' });
  });

  test('headers sent, the body never finished: the same', async () => {
    await expect(getFhirJson(`${ehr.url}/half`, null, never, 300)).rejects.toMatchObject({
      name: 'FhirHttpError',
      message: 'no answer within 0.3 s',
    });
  });

  test('cancelled by the caller (another read failed): an AbortError, not a timeout', async () => {
    const abort = new AbortController();
    const pending = getFhirJson(`${silent.url}/Observation`, null, abort.signal, 5_000);
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  test.each([
    ['an answer in time: its JSON', '/Patient/p1', 'Bearer t', { body: { resourceType: 'Patient', id: 'p1' } }],
    [
      'a 401 to a request with a token: unauthorized (the session renews it)',
      '/401',
      'Bearer t',
      { unauthorized: true },
    ],
  ])('%s', async (_name, path, authorization, expected) => {
    await expect(getFhirJson(`${ehr.url}${path}`, authorization, never, 2_000)).resolves.toEqual(expected);
  });

  test.each([
    ['a 500: its status and diagnostics', '/500', 500, 'Internal Server Error: database unavailable'],
    ['a 401 without a token: an HTTP error', '/401', 401, 'Unauthorized'],
  ])('%s', async (_name, path, status, message) => {
    await expect(getFhirJson(`${ehr.url}${path}`, null, never, 2_000)).rejects.toMatchObject({ status, message });
  });
});
