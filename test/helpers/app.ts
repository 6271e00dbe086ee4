/**
 * Builds the real express app for tests, with a log stream the test can read.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from '@jest/globals';
import type { Express } from 'express';
import type { ServiceDeps } from '../../src/service-deps.js';
import { cdsServices } from '../../cds-services/index.js';
import { createApp, type AppDeps } from '../../src/app.js';
import type { CdsServiceDefinition } from '../../src/cds-hooks/service.js';
import type { HookName } from '../../src/cds-hooks/schemas.js';
import { testConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { loadClinicalContext } from '../../src/profiles.js';

export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestApp {
  app: Express;
  config: Config;
  logs: LogCapture;
  deps: AppDeps;
}

export function buildTestApp(
  options: {
    env?: Record<string, string>;
    services?: (clinical: ReturnType<typeof loadClinicalContext>) => CdsServiceDefinition<HookName, ServiceDeps>[];
    overrides?: Partial<AppDeps>;
    now?: () => Date;
  } = {},
): TestApp {
  const config = testConfig({ LOG_LEVEL: 'info', FHIR_ALLOW_HTTP: 'true', ...options.env });
  const logs = new LogCapture();
  const log = createLogger('debug', logs);
  const clinical = loadClinicalContext(config);
  const now = options.now ?? (() => new Date('2026-11-22T12:00:00Z'));
  const serviceDeps: ServiceDeps = {
    config,
    clinical,
    log,
    now,
    smartLaunchUrl: 'http://localhost:8080/smart/launch.html',
  };
  const deps: AppDeps = {
    config,
    log,
    services: (options.services ?? cdsServices)(clinical),
    serviceDeps,
    readiness: { checks: () => ({ config: true, valueSets: clinical.terminology.size > 0 }) },
    now,
    ...options.overrides,
  };
  return { app: createApp(deps), config, logs, deps };
}

/** A minimal valid CDS Hooks request for `hook`. */
export function hookRequest(
  hook: HookName,
  patientId: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    hook,
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    context: { userId: 'Practitioner/demo-hematologist', patientId },
    ...extra,
  };
}

/**
 * Listens `app` on a loopback port for the tests of the calling file, closed after them (open
 * connections too): `url()` is its base URL once listening.
 */
export function listenDuringTests(app: Express): { url: () => string } {
  let server: Server | undefined;
  beforeAll(async () => {
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    server = listening;
  });
  afterAll(async () => {
    const s = server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  });
  return {
    url: (): string => {
      if (!server) throw new Error('not listening yet: call url() inside a test');
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}
