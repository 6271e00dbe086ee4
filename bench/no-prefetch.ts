/**
 * patient-view without prefetch: the service reads a patient with 5,000 Observations from the demo
 * FHIR server through a proxy that adds 100 ms to every answer. The figure: the call's duration
 * divided by the slowest single query it made, timed alone through the same proxy (the least any
 * reader pays). The detail adds JSON.parse of every answer, timed in this process: a reader that
 * must also parse what it read pays at least the slowest query plus that, so it shows how much of
 * the figure is the service's own. REPS repetitions. Run: npx tsx bench/no-prefetch.ts
 */
import { DEMO_FHIR_PATH, DemoFhirServer } from '../src/demo/fhir-server.js';
import { demoBehindProxy } from './lib/demo-behind-proxy.js';
import { transactionBundle } from '../src/demo/generator.js';
import { patientWith } from './lib/fixtures.js';
import { startService, waitFor } from './lib/processes.js';
import { type Row, runAsScript, spread } from './lib/stats.js';

const REPS = Number(process.env['REPS'] ?? 3);
const DELAY_MS = 100;

async function timed(url: string, init?: RequestInit): Promise<{ ms: number; body: Buffer }> {
  const started = performance.now();
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { ms: performance.now() - started, body };
}

/** Milliseconds to decode and JSON.parse every answer, as the service must (median of 5 runs). */
function parseAll(bodies: Buffer[]): number {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    for (const body of bodies) JSON.parse(body.toString('utf8'));
    runs.push(performance.now() - started);
  }
  return runs.sort((a, b) => a - b)[2] ?? NaN;
}

export async function benchNoPrefetch(): Promise<Row[]> {
  const fhir = new DemoFhirServer();
  await fhir.load(transactionBundle(patientWith(5000)));
  const { proxy, close } = await demoBehindProxy(fhir, DELAY_MS);
  // The first call fills the proxy's cache from the (slow) in-memory demo server: a long deadline.
  const service = startService(18334, { FHIR_TIMEOUT_MS: '60000' });
  const body = JSON.stringify({
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    fhirServer: `${proxy.url}${DEMO_FHIR_PATH}`,
    context: { userId: 'Practitioner/bench', patientId: 'bench' },
  });
  const call = async (): Promise<number> =>
    (
      await timed(`${service.url}/cds-services/cart-hematotox-patient-view`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    ).ms;
  try {
    await waitFor(`${service.url}/readyz`, performance.now(), 60_000);
    await call(); // fills the proxy's cache (and warms the service)
    await call();
    const ratios: number[] = [];
    const totals: number[] = [];
    const slowest: number[] = [];
    const afterData: number[] = [];
    const parse: number[] = [];
    let bytes = 0;
    let requests = 0;
    let peak = 0;
    for (let rep = 0; rep < REPS; rep++) {
      proxy.requested.length = 0;
      const started = performance.now();
      const total = await call();
      afterData.push(started + total - proxy.lastAnswerAt);
      const urls = [...new Set(proxy.requested)];
      requests = proxy.requested.length;
      let max = 0;
      const bodies: Buffer[] = [];
      for (const u of urls) {
        const alone = await timed(`${proxy.url}${u}`);
        max = Math.max(max, alone.ms);
        bodies.push(alone.body);
      }
      bytes = bodies.reduce((sum, b) => sum + b.length, 0);
      parse.push(parseAll(bodies));
      totals.push(total);
      slowest.push(max);
      ratios.push(total / max);
      peak = Math.max(peak, proxy.peak);
    }
    return [
      {
        what: `no prefetch, 5,000 Observations, ${DELAY_MS} ms per FHIR request: total ÷ slowest single query`,
        figure: `${spread(ratios)}×`,
        resolveAt: '≤ 1.5×',
        detail: `call ${spread(totals, 0)} ms, slowest query ${spread(slowest, 0)} ms, call after the last answer ${spread(afterData, 0)} ms; ${requests} requests, at most ${peak} at once; JSON.parse of all answers (${(bytes / 1e6).toFixed(1)} MB) ${spread(parse, 0)} ms, so a reader that parses them pays at least ${spread(slowest.map((s, i) => (s + (parse[i] ?? NaN)) / s))}×`,
      },
    ];
  } finally {
    await service.stop();
    await close();
  }
}

await runAsScript(import.meta.url, benchNoPrefetch);
