/**
 * What one order-sign costs the EHR's FHIR server, per demo patient: before (the prefetch
 * order-sign used to publish, the same as patient-view's, which the EHR runs for every order
 * signed) and now (no prefetch published; the service reads from fhirServer only for an order it
 * advises on). Searches are counted with their pages (_count=1000), bytes as sent.
 * Run: npx tsx bench/order-sign-cost.ts
 */
import { hematotoxPrefetch } from '../cds-services/prefetch.js';
import { DEMO_SCENARIOS, seedDemo } from '../src/demo/demo-patients.js';
import { DEMO_FHIR_PATH, DemoFhirServer } from '../src/demo/fhir-server.js';
import { demoBehindProxy } from './lib/demo-behind-proxy.js';
import { loadClinicalContext } from '../src/profiles.js';
import { TODAY } from './lib/fixtures.js';
import type { LatencyProxy } from './lib/latency-proxy.js';
import { startService, waitFor } from './lib/processes.js';
import { type Row, runAsScript } from './lib/stats.js';

const medicationRequest = (id: string, patientId: string, system: string, code: string, display: string): unknown => ({
  resourceType: 'MedicationRequest',
  id,
  status: 'draft',
  intent: 'order',
  subject: { reference: `Patient/${patientId}` },
  medicationCodeableConcept: { coding: [{ system, code, display }] },
});
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** What the EHR sends for the old prefetch: every template run, every page read. */
async function prefetchCost(proxy: LatencyProxy, patientId: string): Promise<{ searches: number; bytes: number }> {
  const templates = Object.values(hematotoxPrefetch(loadClinicalContext({ timeZone: 'UTC' })));
  proxy.requested.length = 0;
  proxy.bytes = 0;
  for (const template of templates) {
    let url: string | undefined =
      `${proxy.url}${DEMO_FHIR_PATH}/${template.replaceAll('{{context.patientId}}', patientId)}${template.includes('?') ? '&_count=1000' : ''}`;
    while (url) {
      const bundle = (await (await fetch(url)).json()) as { link?: { relation: string; url: string }[] };
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
  }
  return { searches: proxy.requested.length, bytes: proxy.bytes };
}

export async function benchOrderSignCost(): Promise<Row[]> {
  const fhir = new DemoFhirServer();
  await seedDemo(fhir, TODAY);
  const { proxy, close } = await demoBehindProxy(fhir, 0);
  const service = startService(18337, { FHIR_TIMEOUT_MS: '60000' });
  const sign = async (patientId: string, order: unknown): Promise<{ searches: number; bytes: number }> => {
    proxy.requested.length = 0;
    proxy.bytes = 0;
    const res = await fetch(`${service.url}/cds-services/cart-hematotox-order-sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hook: 'order-sign',
        hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
        fhirServer: `${proxy.url}${DEMO_FHIR_PATH}`,
        context: {
          userId: 'Practitioner/demo-hematologist',
          patientId,
          draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: order }] },
        },
      }),
    });
    if (!res.ok) throw new Error(`order-sign answered ${res.status}`);
    await res.arrayBuffer();
    return { searches: proxy.requested.length, bytes: proxy.bytes };
  };
  try {
    await waitFor(`${service.url}/readyz`, performance.now(), 60_000);
    const before: { searches: number; bytes: number }[] = [];
    const plain: { searches: number; bytes: number }[] = [];
    const advised: { searches: number; bytes: number }[] = [];
    for (const { id } of DEMO_SCENARIOS) {
      before.push(await prefetchCost(proxy, id));
      plain.push(await sign(id, medicationRequest('amox-1', id, RXNORM, '723', 'amoxicillin')));
      await sign(id, medicationRequest('toci-1', id, RXNORM, '612865', 'tocilizumab')); // fills the proxy's cache
      advised.push(await sign(id, medicationRequest('toci-1', id, RXNORM, '612865', 'tocilizumab')));
    }
    const range = (xs: { searches: number; bytes: number }[]): string => {
      const s = xs.map((x) => x.searches);
      const kb = xs.map((x) => x.bytes / 1024);
      return `${Math.min(...s)}–${Math.max(...s)} requests, ${Math.min(...kb).toFixed(0)}–${Math.max(...kb).toFixed(0)} kB`;
    };
    return [
      {
        what: `order-sign, EHR's FHIR cost per order (${DEMO_SCENARIOS.length} demo patients): before → now`,
        figure: `${range(before)} → ${range(plain)}`,
        resolveAt: 'least that decides',
        detail: `now, for an order advised on (tocilizumab): ${range(advised)} read by the service`,
      },
    ];
  } finally {
    await service.stop();
    await close();
  }
}

await runAsScript(import.meta.url, benchOrderSignCost);
