/**
 * A demo FHIR server (in this process) behind a latency proxy: what the no-prefetch and order-sign
 * benchmarks point the service at. `close()` stops both.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DEMO_FHIR_PATH, type DemoFhirServer } from '../../src/demo/fhir-server.js';
import { latencyProxy, type LatencyProxy } from './latency-proxy.js';

export async function demoBehindProxy(
  fhir: DemoFhirServer,
  delayMs: number,
): Promise<{ proxy: LatencyProxy; close: () => Promise<void> }> {
  const app = express();
  app.use(DEMO_FHIR_PATH, fhir.router('10mb'));
  const demo = createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => demo.once('listening', r));
  const proxy = await latencyProxy(`http://127.0.0.1:${(demo.address() as AddressInfo).port}`, delayMs);
  return {
    proxy,
    close: async () => {
      await proxy.close();
      demo.closeAllConnections();
      demo.close();
    },
  };
}
