/**
 * patient-view with 500 and 5,000 prefetched Observations: the service's CPU time per request
 * divided by that of a bare node:http server that reads the same body, JSON.parse-s it and
 * answers a constant card. Both run as child processes; requests are sent one at a time, the two
 * servers interleaved, REPS repetitions. Run: npx tsx bench/patient-view.ts
 */
import { patientViewBody, patientWith } from './lib/fixtures.js';
import { startBare, startService, waitFor, type Child } from './lib/processes.js';
import { type Row, runAsScript, spread } from './lib/stats.js';

const REPS = Number(process.env['REPS'] ?? 3);
const SERVICE = '/cds-services/cart-hematotox-patient-view';
/**
 * Calls of 500 Observations made to each server before anything is timed. V8 goes on optimising the
 * service's code over its first few thousand calls: measured on the compiled service, CPU per call (all
 * threads) was 5.6 ms over its first 1,000 calls, 4.8 over the next 1,000, then 4.1–4.3 per 1,000 from the
 * 2,001st on, while that of V8's helper threads (compiling and collecting) fell from 1.3 to 0.4–0.7 ms; a
 * trace showed about 150 functions optimised between the 1,001st and the 2,000th call. A service runs for
 * days: its cost per request is the warm one. The first 1,000 calls' cost is printed too.
 */
const WARM_CALLS = 3000;
const COLD_CALLS = 1000;

async function cpuPerRequest(child: Child, path: string, body: string, n: number): Promise<number> {
  const before = child.cpuMs();
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${child.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (!res.ok) throw new Error(`${child.url}${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    await res.arrayBuffer();
  }
  return (child.cpuMs() - before) / n;
}

/** Whether the default configuration takes a 20,000-Observation prefetch. */
async function largestPrefetch(service: Child): Promise<Row> {
  const body = patientViewBody(patientWith(20000));
  const res = await fetch(`${service.url}${SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return {
    what: 'largest prefetch accepted by default',
    figure: `20,000 Observations (${(body.length / 1e6).toFixed(1)} MB): ${res.status}`,
    resolveAt: '20,000 Observations',
    detail: 'BODY_LIMIT default 16mb',
  };
}

export async function benchPatientView(): Promise<Row[]> {
  const service = startService(18331);
  const bare = startBare(18332);
  const rows: Row[] = [];
  try {
    await waitFor(`${service.url}/readyz`, performance.now(), 60_000);
    await waitFor(`${bare.url}/`, performance.now());
    const warmBody = patientViewBody(patientWith(500));
    const cold = {
      service: await cpuPerRequest(service, SERVICE, warmBody, COLD_CALLS),
      bare: await cpuPerRequest(bare, '/', warmBody, COLD_CALLS),
    };
    await cpuPerRequest(service, SERVICE, warmBody, WARM_CALLS - COLD_CALLS);
    await cpuPerRequest(bare, '/', warmBody, WARM_CALLS - COLD_CALLS);
    for (const [n, requests, resolveAt] of [
      [5000, 30, '≤ 1.6×'],
      [500, 150, '≤ 2×'],
    ] as const) {
      const body = patientViewBody(patientWith(n));
      await cpuPerRequest(service, SERVICE, body, requests); // warm-up: JIT, young generation sizing
      await cpuPerRequest(bare, '/', body, requests);
      const ratios: number[] = [];
      const serviceMs: number[] = [];
      const bareMs: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const s = await cpuPerRequest(service, SERVICE, body, requests);
        const b = await cpuPerRequest(bare, '/', body, requests);
        serviceMs.push(s);
        bareMs.push(b);
        ratios.push(s / b);
      }
      rows.push({
        what: `patient-view, ${n.toLocaleString('en')} prefetched Observations (${(body.length / 1e6).toFixed(1)} MB): CPU per request, service ÷ bare server`,
        figure: `${spread(ratios)}×`,
        resolveAt,
        detail:
          `service ${spread(serviceMs, 1)} ms, bare ${spread(bareMs, 1)} ms, after ${WARM_CALLS.toLocaleString('en')} calls of 500 Observations to each` +
          (n === 500
            ? `; their first ${COLD_CALLS.toLocaleString('en')} calls: service ${cold.service.toFixed(1)} ms, bare ${cold.bare.toFixed(1)} ms (${(cold.service / cold.bare).toFixed(2)}×)`
            : ''),
      });
    }
    rows.push(await largestPrefetch(service));
  } finally {
    await Promise.all([service.stop(), bare.stop()]);
  }
  return rows;
}

await runAsScript(import.meta.url, benchPatientView);
