/**
 * The hostile FHIR server's (./hostile-fhir.ts) answers of odd shape or encoding: a 200 that is not
 * the searchset or the resource asked for, a searchset whose `entry` is not a list of objects, and the `normal`
 * searchset in another encoding than plain UTF-8, and searchsets whose entries carry no resource
 * (`{}`, `{"resource": null}`, a fullUrl alone: one entry per resource `normal` would give), and
 * searchsets whose paging or failure markers are malformed (a `link` object, a next url that is no
 * string, an OperationOutcome entry whose `issue` is an object or whose severity is `ERROR`).
 */
import { FHIR_JSON, normalAnswer, outcome, sendBytes, type Ctx } from './hostile-fhir-modes.js';

/** Modes answered here. */
export const ODD_MODES = [
  'outcome-200',
  'outcome-200-information',
  'patient-for-search',
  'wrong-resource',
  'wrong-resource-in-bundle',
  'entry-object',
  'entry-null',
  'entry-nested',
  'entries-empty',
  'entries-null-resource',
  'entries-fullurl-only',
  'link-object',
  'next-url-not-string',
  'outcome-issue-object',
  'outcome-severity-uppercase',
  'bom-utf8',
  'utf16',
  'latin1',
  'invalid-utf8',
] as const;
export type OddMode = (typeof ODD_MODES)[number];

export const isOddMode = (mode: string): mode is OddMode => (ODD_MODES as readonly string[]).includes(mode);

/** The text of a Bundle tag the encoding modes add, so a reader can check it decoded right. */
export const NON_ASCII_TAG = 'Résultats µ/L';

/** Depth of `entry-nested`: deep enough to break a recursive reader, parsed by JSON.parse. */
export const NESTED_DEPTH = 100_000;

export function respondOdd(ctx: Ctx, mode: OddMode): void {
  const utf8 = (body: string, contentType = FHIR_JSON): void => sendBytes(ctx, 200, contentType, Buffer.from(body));
  switch (mode) {
    case 'outcome-200':
      return utf8(JSON.stringify(outcome('exception', 'Search failed: the lab results backend is down')));
    case 'outcome-200-information':
      return utf8(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'information', code: 'informational', diagnostics: 'Served from cache' }],
        }),
      );
    case 'patient-for-search':
      return utf8(JSON.stringify({ resourceType: 'Patient', id: 'p-other' }));
    case 'wrong-resource':
      return utf8(JSON.stringify(wrongResource(ctx)));
    case 'wrong-resource-in-bundle':
      return utf8(
        JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: wrongResource(ctx) }] }),
      );
    case 'entry-object':
    case 'entry-null': {
      const bundle = normalAnswer(ctx)[1] as { entry?: unknown[] };
      const entry = mode === 'entry-null' ? null : { 0: bundle.entry?.[0] ?? {} };
      return utf8(JSON.stringify({ ...bundle, entry }));
    }
    case 'entries-empty':
    case 'entries-null-resource':
    case 'entries-fullurl-only': {
      const bundle = normalAnswer(ctx)[1] as { entry?: { fullUrl?: string }[] };
      const entry = (bundle.entry ?? []).map((e) =>
        mode === 'entries-empty' ? {} : mode === 'entries-null-resource' ? { resource: null } : { fullUrl: e.fullUrl },
      );
      return utf8(JSON.stringify({ ...bundle, entry }));
    }
    case 'link-object':
    case 'next-url-not-string': {
      const bundle = normalAnswer(ctx)[1];
      const url = `${ctx.url.href}&_page=2`;
      const link = mode === 'link-object' ? { relation: 'next', url } : [{ relation: 'next', url: { value: url } }];
      return utf8(JSON.stringify({ ...bundle, link }));
    }
    case 'outcome-issue-object':
    case 'outcome-severity-uppercase': {
      const bundle = normalAnswer(ctx)[1] as { entry?: unknown[] };
      const issue = { severity: mode === 'outcome-issue-object' ? 'error' : 'ERROR', code: 'too-costly' };
      const failure = {
        resource: { resourceType: 'OperationOutcome', issue: mode === 'outcome-issue-object' ? issue : [issue] },
        search: { mode: 'outcome' },
      };
      return utf8(JSON.stringify({ ...bundle, entry: [...(bundle.entry ?? []), failure] }));
    }
    case 'entry-nested':
      return utf8(
        `{"resourceType":"Bundle","type":"searchset","entry":${'['.repeat(NESTED_DEPTH)}${']'.repeat(NESTED_DEPTH)}}`,
      );
    case 'bom-utf8':
      return sendBytes(ctx, 200, FHIR_JSON, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(tagged(ctx))]));
    case 'utf16':
      return sendBytes(
        ctx,
        200,
        `${FHIR_JSON}; charset=utf-16le`,
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(tagged(ctx), 'utf16le')]),
      );
    case 'latin1':
      return sendBytes(ctx, 200, `${FHIR_JSON}; charset=iso-8859-1`, Buffer.from(tagged(ctx), 'latin1'));
    case 'invalid-utf8':
      // ISO-8859-1 bytes (é, µ) sent as if they were UTF-8.
      return sendBytes(ctx, 200, FHIR_JSON, Buffer.from(tagged(ctx), 'latin1'));
  }
}

/** What `wrong-resource` answers: options.wrongResource, else an Observation. */
function wrongResource(ctx: Ctx): object {
  return ctx.options.wrongResource ?? { resourceType: 'Observation', id: 'wrong', status: 'final' };
}

/** The `normal` body (status 200 whatever it is) with a non-ASCII Bundle tag; a read's resource as is. */
function tagged(ctx: Ctx): string {
  const body = normalAnswer(ctx)[1] as { resourceType?: string };
  if (body.resourceType !== 'Bundle') return JSON.stringify(body);
  return JSON.stringify({ ...body, meta: { tag: [{ display: NON_ASCII_TAG }] } });
}
