/**
 * What a CDS client (the EHR) does before calling a service: fill the service's prefetch templates
 * from discovery and run them against its FHIR server, collecting every page into one Bundle.
 */
import type { Bundle, FhirResource } from 'fhir/r4.js';

export interface DiscoveredService {
  id: string;
  hook: string;
  prefetch?: Record<string, string>;
}

async function getJson(url: string): Promise<FhirResource> {
  const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as FhirResource;
}

/** Runs one prefetch query; searches come back as one searchset Bundle with all pages. */
export async function runPrefetchQuery(fhirBase: string, query: string): Promise<FhirResource> {
  const first = await getJson(`${fhirBase}/${query}`);
  if (first.resourceType !== 'Bundle') return first;
  const entry = [...(first.entry ?? [])];
  let next = first.link?.find((l) => l.relation === 'next')?.url;
  while (next) {
    const page = (await getJson(next)) as Bundle;
    entry.push(...(page.entry ?? []));
    next = page.link?.find((l) => l.relation === 'next')?.url;
  }
  return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
}

/** Every prefetch key of `service` for `context`, as an EHR would send it. */
export async function fullPrefetch(
  service: DiscoveredService,
  fhirBase: string,
  context: Record<string, string>,
): Promise<Record<string, FhirResource>> {
  const entries = await Promise.all(
    Object.entries(service.prefetch ?? {}).map(async ([key, template]) => {
      const query = template.replace(/\{\{context\.(\w+)\}\}/g, (_m, field: string) =>
        encodeURIComponent(context[field] ?? ''),
      );
      return [key, await runPrefetchQuery(fhirBase, query)] as const;
    }),
  );
  return Object.fromEntries(entries);
}
