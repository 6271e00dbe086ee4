/**
 * The service serves the SMART app (the Vite build) under /smart with a strict Content-Security-
 * Policy, gives it the same clinical configuration the cards use, and links it from the cards.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { smartAppQueries } from '../../cds-services/prefetch.js';
import { smartAppConfig } from '../../src/app.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import { loadConfig } from '../../src/config.js';
import { smartAppDir } from '../../src/http/smart-router.js';
import { createLogger } from '../../src/logger.js';
import { loadClinicalContext, loadValueSets } from '../../src/profiles.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { SmartAppConfig } from '../../src/smart-config.js';
import { buildTestApp, hookRequest, LogCapture } from '../helpers/app.js';
import { seededDemo, serveFhir, type TestFhirServer } from '../helpers/servers.js';

function appWith(env: Record<string, string>, dir: string | undefined) {
  const t = buildTestApp({ env });
  const clinical = t.deps.serviceDeps.clinical;
  const appConfig = smartAppConfig(t.config, clinical, smartAppQueries(clinical));
  return { ...buildTestApp({ env, overrides: { smart: { appConfig, dir } } }), appConfig };
}

/** CSP directive → sources. */
function directives(csp: string): Record<string, string[]> {
  const entries = csp
    .split(';')
    .map((d) => d.trim().split(/\s+/))
    .filter((parts) => parts[0])
    .map(([name, ...sources]): [string, string[]] => [name ?? '', sources]);
  return Object.fromEntries(entries);
}

describe('GET /smart/config.json', () => {
  test('client id, scopes, allow-list, and the clinical configuration of the cards', async () => {
    const { app } = appWith(
      { SMART_ALLOWED_ISS: 'https://ehr.example.org/fhir/', THRESHOLDS_FILE: 'config/thresholds.example.yaml' },
      smartAppDir(),
    );
    const res = await request(app).get('/smart/config.json').expect(200);
    const body = res.body as SmartAppConfig;
    expect(body.clientId).toBe('cart-hematotox-smart');
    expect(body.allowedIssuers).toEqual(['https://ehr.example.org/fhir']);
    expect(body.demo).toBeNull();
    expect(body.clinical.valueSets).toHaveLength(loadValueSets().length);
    expect(body.clinical.thresholds.values.actions.redCellHemoglobin).toBe(70);
    expect(body.clinical.thresholds.overridden).toContain('actions.redCellHemoglobin');
    expect(body.queries.observations).toMatch(/^Observation\?patient=\{\{context\.patientId\}\}&code=/);
    expect(Object.keys(body.queries)).toEqual([
      'patient',
      'observations',
      'medicationAdministrations',
      'procedures',
      'conditions',
    ]);
    expect(body.queries.conditions).toBe('Condition?patient={{context.patientId}}');
    expect(body.standaloneIssuers).toEqual(['https://ehr.example.org/fhir']);
  });

  test('with the demo, the demo FHIR server and its patients', async () => {
    const { app } = appWith({ DEMO: 'true' }, smartAppDir());
    const body = (await request(app).get('/smart/config.json').expect(200)).body as SmartAppConfig;
    expect(body.demo?.fhirBasePath).toBe('/demo/fhir');
    expect(body.demo?.patients.map((p) => p.id)).toContain('cart-aplastic');
  });
});

describe('the app pages', () => {
  test('are served with a CSP that allows no inline script, no CDN', async () => {
    const dir = smartAppDir();
    expect(dir).toBeDefined(); // npm test builds the app first
    const { app } = appWith({}, dir);
    for (const page of ['/smart/', '/smart/launch.html']) {
      const res = await request(app).get(page).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("object-src 'none'");
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.text).not.toMatch(/<script(?![^>]*src=)[^>]*>/); // no inline script
      expect(res.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing fetched from elsewhere
    }
  });

  test('CSP: connections only to itself and the allowed FHIR servers; framing by itself only, by default', async () => {
    const { app } = appWith(
      { SMART_ALLOWED_ISS: 'https://ehr.example.org/fhir/r4,https://ehr.example.org/other' },
      smartAppDir(),
    );
    const csp = (await request(app).get('/smart/launch.html').expect(200)).headers['content-security-policy'] as string;
    expect(directives(csp)).toMatchObject({
      'connect-src': ["'self'", 'https://ehr.example.org'],
      'frame-ancestors': ["'self'"],
    });
    expect(csp).not.toMatch(/connect-src[^;]*https:(?!\/\/)/); // no bare scheme: not "any https origin"
  });

  test('CSP: SMART_FRAME_ANCESTORS lets the EHR embed the app; SMART_AUTH_ORIGINS adds a token endpoint origin', async () => {
    const { app } = appWith(
      {
        SMART_ALLOWED_ISS: 'https://fhir.ehr.example.org/r4',
        SMART_FRAME_ANCESTORS: 'https://ehr.example.org,https://portal.example.org',
        SMART_AUTH_ORIGINS: 'https://login.ehr.example.org',
      },
      smartAppDir(),
    );
    for (const page of ['/smart/', '/smart/launch.html', '/smart/config.json']) {
      const csp = (await request(app).get(page).expect(200)).headers['content-security-policy'] as string;
      expect(directives(csp)).toMatchObject({
        'connect-src': ["'self'", 'https://fhir.ehr.example.org', 'https://login.ehr.example.org'],
        'frame-ancestors': ["'self'", 'https://ehr.example.org', 'https://portal.example.org'],
      });
    }
  });

  test('when the app is not built, /smart says how to build it', async () => {
    const { app } = appWith({}, undefined);
    const res = await request(app).get('/smart/').expect(404);
    expect(res.body.issue[0].diagnostics).toContain('npm run build');
  });
});

describe('cards link the app', () => {
  let running: RunningServer;
  let fhir: TestFhirServer;
  beforeAll(async () => {
    fhir = await serveFhir(await seededDemo());
    running = await startServer(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        FHIR_ALLOW_HTTP: 'true',
        FEEDBACK_SQLITE_PATH: ':memory:',
        LOG_LEVEL: 'silent',
      }),
      createLogger('silent', new LogCapture()),
    );
  }, 60_000);
  afterAll(async () => {
    await running?.close();
    await fhir?.close();
  });

  test('every card has a smart link to the launch page, with the card kind as appContext', async () => {
    const res = await request(running.baseUrl)
      .post(`/cds-services/${PATIENT_VIEW_ID}`)
      .send(hookRequest('patient-view', 'cart-aplastic', { fhirServer: fhir.baseUrl }))
      .expect(200);
    const cards = (res.body as { cards: Card[] }).cards;
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) {
      expect(card.links).toEqual([
        {
          label: expect.any(String),
          url: `${running.baseUrl}/smart/launch.html`,
          type: 'smart',
          appContext: JSON.stringify({ focus: card.extension?.['org.cart-hematotox.card-kind'] }),
        },
      ]);
    }
  });
});

test('the clinical context the app receives builds the same terminology', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  expect(clinical.valueSets.length).toBeGreaterThan(20);
  expect(clinical.terminology.size).toBeGreaterThan(0);
});
