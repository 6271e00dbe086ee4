/**
 * Reads the patient's record: the same queries as the cards' prefetch (Conditions only when the
 * granted scopes allow them), Observations bounded to the look-back period, every page of every
 * search (search-page.ts). Progress and failures are reported per query; a failed optional
 * read (Conditions) is reported as unavailable instead of failing the record.
 */
import type Client from 'fhirclient/lib/Client';
import type { FhirResource } from 'fhir/r4.js';
import { addDays } from '../clinical/dates.js';
import type { AssessmentIssue } from '../clinical/types.js';
import { askedMedications, medicationSearches } from '../fhir/medication-search.js';
import type { AppQueryKey, SmartAppConfig } from '../smart-config.js';
import { readPages, type ReadResult } from './search-page.js';
import { FhirHttpError } from './fhir-request.js';
import { fhirGet, SessionEnded } from './session.js';

/** What the app reads: the record's queries, then the Medications its administrations name by reference. */
export type ReadKey = AppQueryKey | 'medications';

export const QUERY_LABELS: Record<ReadKey, string> = {
  patient: 'Patient',
  observations: 'Observations (blood counts, immunology, inflammation)',
  medicationAdministrations: 'Medication administrations (CAR-T, G-CSF, CRS treatment, IVIG)',
  procedures: 'Procedures (infusion, transfusions)',
  conditions: 'Conditions (CRS)',
  medications: 'Medications the administrations name',
};

export interface QueryProgress {
  key: AppQueryKey;
  state: 'waiting' | 'loading' | 'done' | 'failed' | 'unavailable';
  resources: number;
  pages: number;
}

/** A read that failed: which one, the URL (without the server part) and why. */
export class FhirReadError extends Error {
  constructor(
    readonly key: ReadKey,
    readonly path: string,
    readonly status: number | undefined,
    readonly detail: string,
  ) {
    super(`${QUERY_LABELS[key]}: ${status ? `HTTP ${status} ` : ''}${detail}`);
    this.name = 'FhirReadError';
  }
}

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
    conditions: `${fill(config.queries.conditions)}&${count}`,
  };
}

function failure(key: ReadKey, path: string, error: unknown): Error {
  if (error instanceof SessionEnded) return error;
  if ((error as Error).name === 'AbortError') return new FhirReadError(key, path, undefined, 'cancelled');
  if (error instanceof FhirHttpError) return new FhirReadError(key, path, error.status, error.message);
  return new FhirReadError(key, path, undefined, (error as Error).message.split('\n')[0] ?? 'failed');
}

/** Every resource of one read or search ({@link readPages}); a failure names the read and its request. */
async function readAll(
  client: Client,
  key: ReadKey,
  path: string,
  onPage: (resources: number) => void,
  signal: AbortSignal,
): Promise<ReadResult> {
  const base = new URL(client.state.serverUrl.endsWith('/') ? client.state.serverUrl : `${client.state.serverUrl}/`);
  try {
    return await readPages((url) => fhirGet(client, url, signal), base, path, onPage);
  } catch (error) {
    throw failure(key, path, error);
  }
}

/**
 * The Medications `keys` (`Medication/<id>`) name, read by `_id` as the cards read them
 * (fhir/medication-search.ts): only those asked for are kept. Throws FhirReadError (or
 * SessionEnded) when a search fails.
 */
export async function readMedications(client: Client, keys: readonly string[]): Promise<ReadResult> {
  const { ids, urls } = medicationSearches(keys);
  const signal = new AbortController().signal;
  const found: ReadResult = { resources: [], issues: [] };
  for (const url of urls) {
    const { resources, issues } = await readAll(client, 'medications', url, () => undefined, signal);
    found.resources.push(...resources);
    found.issues.push(...issues);
  }
  return { resources: askedMedications(found.resources, ids) as FhirResource[], issues: found.issues };
}

/** What was read, what to say about it (searches short of their total), and the optional reads that failed (key → why). */
export interface LoadedRecord {
  resources: FhirResource[];
  /** What the Patient read gave, whose id main.ts checks against the launch's. */
  patientRead: FhirResource[];
  issues: AssessmentIssue[];
  unavailable: Partial<Record<AppQueryKey, string>>;
}

/**
 * Every query in parallel; rejects with the first failure of a required read (the others are
 * cancelled). A failed `optional` read is reported as unavailable, with its reason, and the rest
 * goes on; a {@link SessionEnded} always rejects.
 */
export async function loadRecord(
  client: Client,
  paths: Partial<Record<AppQueryKey, string>>,
  onProgress: (p: QueryProgress) => void,
  optional: readonly AppQueryKey[] = [],
): Promise<LoadedRecord> {
  const abort = new AbortController();
  const keys = Object.keys(paths) as AppQueryKey[];
  const progress = new Map<AppQueryKey, QueryProgress>(
    keys.map((key) => [key, { key, state: 'waiting', resources: 0, pages: 0 }]),
  );
  const unavailable: LoadedRecord['unavailable'] = {};
  let stopped = false;
  const report = (key: AppQueryKey, change: Partial<QueryProgress>): void => {
    if (stopped) return; // after the first failure the others are cancelled, not failed
    const p = { ...(progress.get(key) as QueryProgress), ...change };
    progress.set(key, p);
    onProgress(p);
  };
  const read = async (key: AppQueryKey): Promise<ReadResult> => {
    report(key, { state: 'loading' });
    try {
      const onPage = (n: number): void =>
        report(key, {
          resources: (progress.get(key)?.resources ?? 0) + n,
          pages: (progress.get(key)?.pages ?? 0) + 1,
        });
      const result = await readAll(client, key, paths[key] ?? '', onPage, abort.signal);
      report(key, { state: 'done' });
      return result;
    } catch (error) {
      if (optional.includes(key) && error instanceof FhirReadError && error.detail !== 'cancelled') {
        unavailable[key] = error.message;
        report(key, { state: 'unavailable' });
        return { resources: [], issues: [] };
      }
      report(key, { state: 'failed' });
      stopped = true;
      throw error;
    }
  };
  try {
    const parts = await Promise.all(keys.map(read));
    return {
      resources: parts.flatMap((p) => p.resources),
      patientRead: parts[keys.indexOf('patient')]?.resources ?? [],
      issues: parts.flatMap((p) => p.issues),
      unavailable,
    };
  } catch (error) {
    stopped = true;
    abort.abort();
    throw error;
  }
}
