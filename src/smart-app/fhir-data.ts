/**
 * Reads the patient's record with fhirclient: the same queries as the cards' prefetch (minus
 * Conditions), Observations bounded to the look-back period, every page of every search. Pages are
 * followed here, not by fhirclient, so that a `next` link leaving the FHIR server is refused instead
 * of receiving the access token. Progress and failures are reported per query.
 */
import type Client from 'fhirclient/lib/Client';
import type { FhirResource } from 'fhir/r4.js';
import { addDays } from '../clinical/dates.js';
import { isUnderBase } from '../fhir/url.js';
import type { AppQueryKey, SmartAppConfig } from '../smart-config.js';

export const QUERY_LABELS: Record<AppQueryKey, string> = {
  patient: 'Patient',
  observations: 'Observations (blood counts, immunology, inflammation)',
  medicationAdministrations: 'Medication administrations (CAR-T, G-CSF, CRS treatment, IVIG)',
  procedures: 'Procedures (infusion, transfusions)',
};

export interface QueryProgress {
  key: AppQueryKey;
  state: 'waiting' | 'loading' | 'done' | 'failed';
  resources: number;
  pages: number;
}

/** A read that failed: which one, the URL (without the server part) and why. */
export class FhirReadError extends Error {
  constructor(
    readonly key: AppQueryKey,
    readonly path: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${QUERY_LABELS[key]}: ${status ? `HTTP ${status} ` : ''}${detail}`);
    this.name = 'FhirReadError';
  }
}

const MAX_PAGES = 50;

/** A request path people can read: decoded, with a long code list summarised. */
export function describePath(path: string): string {
  const [resource, query] = path.split('?');
  if (!query) return path;
  const params = new URLSearchParams(query);
  const parts = [...params.entries()].map(([k, v]) =>
    k === 'code' && v.length > 60 ? `code=(${v.split(',').length} codes)` : `${k}=${v}`,
  );
  return `${resource ?? ''}?${parts.join('&')}`;
}

export function queryPaths(config: SmartAppConfig, patientId: string, today: string): Record<AppQueryKey, string> {
  const since = addDays(today, -config.clinical.lookbackDays);
  const fill = (template: string): string =>
    template.replaceAll('{{context.patientId}}', encodeURIComponent(patientId));
  const count = `_count=${config.pageSize}`;
  return {
    patient: fill(config.queries.patient),
    observations: `${fill(config.queries.observations)}&date=ge${since}&${count}`,
    medicationAdministrations: `${fill(config.queries.medicationAdministrations)}&${count}`,
    procedures: `${fill(config.queries.procedures)}&${count}`,
  };
}

function failure(key: AppQueryKey, path: string, error: unknown): FhirReadError {
  const e = error as { status?: number; statusText?: string; message?: string; name?: string };
  if (e.name === 'AbortError') return new FhirReadError(key, path, undefined, 'cancelled');
  const text = e.statusText || (e.message ?? 'failed').split('\n')[0] || 'failed';
  const status = typeof e.status === 'number' ? e.status : undefined;
  return new FhirReadError(
    key,
    path,
    status,
    e.status ? text : `${text} (network error or the server refused the request)`,
  );
}

async function readAll(
  client: Client,
  key: AppQueryKey,
  path: string,
  onPage: (resources: number) => void,
  signal: AbortSignal,
): Promise<FhirResource[]> {
  const base = new URL(client.state.serverUrl.endsWith('/') ? client.state.serverUrl : `${client.state.serverUrl}/`);
  let url: string | undefined = path;
  const out: FhirResource[] = [];
  for (let page = 0; url; page++) {
    if (page >= MAX_PAGES) throw new FhirReadError(key, path, undefined, `more than ${MAX_PAGES} pages`);
    let body: FhirResource;
    try {
      body = await client.request<FhirResource>({ url, signal }, { pageLimit: 1 });
    } catch (error) {
      throw failure(key, path, error);
    }
    if (body.resourceType !== 'Bundle') {
      out.push(body);
      onPage(1);
      return out;
    }
    const entries = (body.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
    out.push(...entries);
    onPage(entries.length);
    const next: string | undefined = body.link?.find((l) => l.relation === 'next')?.url;
    if (next && !isUnderBase(base, new URL(next, base))) {
      throw new FhirReadError(key, path, undefined, 'the server sent a next-page link outside itself; not followed');
    }
    url = next;
  }
  return out;
}

/** Every query in parallel; rejects with the first FhirReadError (the others are cancelled). */
export async function loadRecord(
  client: Client,
  paths: Record<AppQueryKey, string>,
  onProgress: (p: QueryProgress) => void,
): Promise<FhirResource[]> {
  const abort = new AbortController();
  const keys = Object.keys(paths) as AppQueryKey[];
  const progress = new Map<AppQueryKey, QueryProgress>(
    keys.map((key) => [key, { key, state: 'waiting', resources: 0, pages: 0 }]),
  );
  let stopped = false;
  const report = (key: AppQueryKey, change: Partial<QueryProgress>): void => {
    if (stopped) return; // after the first failure the others are cancelled, not failed
    const p = { ...(progress.get(key) as QueryProgress), ...change };
    progress.set(key, p);
    onProgress(p);
  };
  try {
    const parts = await Promise.all(
      keys.map(async (key) => {
        report(key, { state: 'loading' });
        try {
          const onPage = (n: number): void =>
            report(key, {
              resources: (progress.get(key)?.resources ?? 0) + n,
              pages: (progress.get(key)?.pages ?? 0) + 1,
            });
          const resources = await readAll(client, key, paths[key], onPage, abort.signal);
          report(key, { state: 'done' });
          return resources;
        } catch (error) {
          report(key, { state: 'failed' });
          stopped = true;
          throw error;
        }
      }),
    );
    return parts.flat();
  } catch (error) {
    stopped = true;
    abort.abort();
    throw error;
  }
}
