/**
 * The SMART app in a real headless Chromium (Debian's, driven by playwright-core) against the real
 * service: the embedded demo FHIR server for direct demo opening, and a stand-in EHR (authorization
 * server + FHIR proxy, test/helpers/mock-ehr.ts) for the SMART EHR launch with PKCE.
 *
 * Expected grades come from the service's own engine (POST /assessments on the same resources) and
 * the recommendations from the patient-view cards: the app must show the same.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PATIENT_VIEW_ID } from '../../cds-services/patient-view-hematotox.js';
import { cardKind } from '../../src/cds-hooks/router.js';
import type { Card } from '../../src/cds-hooks/schemas.js';
import type { Assessment } from '../../src/clinical/types.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { projectRoot } from '../../src/profiles.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { EHR_LAUNCH_SCOPES } from '../../src/smart-config.js';
import { LogCapture } from '../helpers/app.js';
import { runPrefetchQuery } from '../helpers/ehr.js';
import { startMockEhr, type MockEhr } from '../helpers/mock-ehr.js';
import { fakeServer } from '../helpers/servers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SCREENSHOTS = join(projectRoot(), 'test', 'e2e', 'screenshots');

let server: RunningServer;
let ehr: MockEhr;
let browser: Browser;
let context: BrowserContext;
let problems: string[];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  ehr = await startMockEhr();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DEMO: 'true',
    FHIR_ALLOW_HTTP: 'true',
    SMART_ALLOWED_ISS: `${ehr.fhirBase},${ehr.noPkceFhirBase}`,
    FEEDBACK_SQLITE_PATH: ':memory:',
    LOG_LEVEL: 'silent',
  });
  server = await startServer(config, createLogger('silent', new LogCapture()));
  ehr.setUpstream(`${server.baseUrl}/demo/fhir`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await ehr?.close();
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
  context = await browser.newContext({ viewport });
  const page = await context.newPage();
  problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser asks every origin for /favicon.ico; nothing else may fail.
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(`console: ${m.text()}`);
  });
  return page;
}

afterEach(async () => {
  await context?.close();
});

async function settled(page: Page): Promise<string> {
  const status = page.getByTestId('status');
  try {
    await page.waitForSelector('[data-testid=status]:not([data-state=loading])', { state: 'attached', timeout: 30_000 });
  } catch (error) {
    throw new Error(`the app did not settle: "${(await status.textContent()) ?? ''}" at ${page.url()}; ${problems.join('; ')}`, { cause: error });
  }
  return (await status.getAttribute('data-state')) ?? '';
}

/** What the service's engine says for the same record (all of the patient's resources). */
async function expected(patientId: string): Promise<{ assessment: Assessment; cardKinds: string[] }> {
  const fhir = `${server.baseUrl}/demo/fhir`;
  const parts = await Promise.all(
    [`Patient/${patientId}`, `Observation?patient=${patientId}&_count=1000`, `MedicationAdministration?patient=${patientId}&_count=1000`, `Procedure?patient=${patientId}&_count=1000`].map((q) => runPrefetchQuery(fhir, q)),
  );
  const entry = parts.flatMap((p) => (p.resourceType === 'Bundle' ? (p.entry ?? []) : [{ resource: p }]));
  const res = await fetch(`${server.baseUrl}/assessments?patientId=${patientId}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry }) });
  const assessment = (await res.json()) as Assessment;
  const cds = await fetch(`${server.baseUrl}/cds-services/${PATIENT_VIEW_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hook: 'patient-view', hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea', fhirServer: fhir, context: { userId: 'Practitioner/demo-hematologist', patientId } }),
  });
  const cards = ((await cds.json()) as { cards: Card[] }).cards;
  return { assessment, cardKinds: cards.map(cardKind).filter((k) => k !== 'hematotoxicity-summary') };
}

const gradeText = (grade: number | null, atLeast: boolean, complete: boolean): string => (grade === null ? 'not gradable' : `${atLeast ? '≥ ' : ''}${grade}${complete ? '' : ' (so far)'}`);

describe.each([
  ['cart-quick', 'quick'],
  ['cart-biphasic', 'intermittent'],
  ['cart-aplastic', 'aplastic'],
])('demo patient %s opened directly', (patientId, phenotype) => {
  test('shows the engine’s grades and the cards’ recommendations, with no console error', async () => {
    const { assessment: a, cardKinds } = await expected(patientId);
    const page = await newPage();
    const t0 = Date.now();
    await page.goto(`${server.baseUrl}/smart/?patient=${patientId}`);
    expect(await settled(page)).toBe('ready');
    const seconds = (Date.now() - t0) / 1000;

    expect(a.icaht.phenotype).toBe(phenotype);
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe(phenotype);
    await expect(page.getByTestId('icaht-early-grade').textContent()).resolves.toBe(gradeText(a.icaht.early.grade, a.icaht.early.atLeast, a.icaht.early.complete));
    await expect(page.getByTestId('ticaht-early-grade').textContent()).resolves.toBe(gradeText(a.icaht.thrombocytopenia.early.grade, a.icaht.thrombocytopenia.early.atLeast, a.icaht.thrombocytopenia.early.complete));
    await expect(page.getByTestId('day').textContent()).resolves.toBe(`day +${a.dayPostInfusion ?? ''}`);
    expect(a.prolongedHematologicToxicity).not.toBeNull();
    await expect(page.getByTestId('pht').textContent()).resolves.toBe(a.prolongedHematologicToxicity ? 'yes' : 'no');
    await expect(page.getByTestId('hematotox-score').textContent()).resolves.toContain(String(a.hematotox.score ?? a.hematotox.partialScore));
    await expect(page.getByTestId('ctcae-latest-neutrophils').textContent()).resolves.toBe(String(a.ctcae.neutrophils.latest ?? '–'));
    const shown = await page.getByTestId('recommendation').evaluateAll((els) => els.map((e) => (e as { getAttribute(name: string): string | null }).getAttribute('data-kind')));
    expect(shown).toEqual(a.recommendations.map((r) => r.kind));
    expect(shown).toEqual(cardKinds);
    // The timeline: events strip and the three count lanes, day −7 to today.
    await expect(page.locator('figure.lane').count()).resolves.toBe(4);
    await expect(page.locator('#timeline').getAttribute('data-range')).resolves.toBe(`-7,${(a.dayPostInfusion ?? 0) + 1}`);
    expect(problems).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `${patientId}.png`) });
    expect(seconds).toBeLessThan(20);
  }, 90_000);
});

describe('the view', () => {
  test('PHT and the work-up for the aplastic patient; zoom and extra lanes; tablet width; print', async () => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/?patient=cart-aplastic`);
    expect(await settled(page)).toBe('ready');
    await expect(page.getByTestId('pht').textContent()).resolves.toBe('yes');
    await expect(page.locator('[data-testid=recommendation][data-kind=cytopenia-workup] a').first().getAttribute('href')).resolves.toBe('https://doi.org/10.1182/blood.2023020578');

    await page.getByRole('button', { name: 'to +90' }).click();
    await expect(page.locator('#timeline').getAttribute('data-range')).resolves.toBe('-7,90');
    await expect(page.getByRole('button', { name: 'to +90' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await page.getByLabel('WBC').check();
    await expect(page.locator('figure.lane[data-analyte=wbc]').count()).resolves.toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'cart-aplastic-90-days-wbc.png') });

    await page.setViewportSize({ width: 768, height: 1024 });
    await page.waitForTimeout(200);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'cart-aplastic-tablet.png') });

    await page.emulateMedia({ media: 'print' });
    await expect(page.locator('#toolbar').isVisible()).resolves.toBe(false);
    await expect(page.locator('#panels').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'cart-aplastic-print.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 90_000);

  test('unreadable units and missing values are shown, not hidden', async () => {
    const day0 = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const at = (days: number): string => new Date(Date.parse(`${day0}T08:00:00Z`) + days * 86_400_000).toISOString();
    const patient = 'e2e-bad-units';
    const obs = (id: string, code: string, value: number, unit: string, days: number) => ({
      resource: { resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` }, effectiveDateTime: at(days), valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit } },
      request: { method: 'PUT', url: `Observation/${id}` },
    });
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', id: patient, gender: 'female', birthDate: '1990-01-01' }, request: { method: 'PUT', url: `Patient/${patient}` } },
        {
          resource: { resourceType: 'MedicationAdministration', id: `${patient}-cart`, status: 'completed', medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] }, subject: { reference: `Patient/${patient}` }, effectiveDateTime: at(0) },
          request: { method: 'PUT', url: `MedicationAdministration/${patient}-cart` },
        },
        obs(`${patient}-anc-1`, '751-8', 0.3, '10*9/L', 5),
        obs(`${patient}-anc-2`, '751-8', 4, 'furlongs', 6),
        obs(`${patient}-plt-1`, '777-3', 55, '10*9/L', 6),
      ],
    };
    const load = await fetch(`${server.baseUrl}/demo/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
    expect(load.status).toBe(200);

    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/?patient=${patient}`);
    expect(await settled(page)).toBe('ready');
    await expect(page.locator('[data-testid=data-issue][data-code=unit-unreadable]').textContent()).resolves.toContain('furlongs');
    await expect(page.locator('[data-testid=data-issue][data-code=data-gap]').count()).resolves.toBe(1);
    await expect(page.getByTestId('icaht-gaps').textContent()).resolves.toContain('not measured');
    await expect(page.getByTestId('icaht-early-grade').textContent()).resolves.toMatch(/^≥ /);
    await expect(page.locator('#hematotox .missing').count()).resolves.toBe(5);
    expect(problems).toEqual([]);
  }, 90_000);

  test('opening index.html without a launch explains what to do', async () => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/index.html`);
    expect(await settled(page)).toBe('error');
    await expect(page.getByTestId('status').textContent()).resolves.toContain('Open the app from the EHR');
  }, 60_000);
});

describe('SMART EHR launch', () => {
  test('iss on the allow-list: PKCE S256, the exact scopes, token in sessionStorage only, focus from appContext', async () => {
    ehr.launch = { patient: 'cart-biphasic', appContext: JSON.stringify({ focus: 'cytopenia-workup' }) };
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.fhirBase)}&launch=launch-123`);
    expect(await settled(page)).toBe('ready');
    // fhirclient removes the code from the address bar (and so from history) once exchanged.
    expect(page.url()).toBe(`${server.baseUrl}/smart/index.html`);

    const auth = ehr.authorizations.at(-1)?.query ?? {};
    expect(auth).toMatchObject({ response_type: 'code', client_id: 'cart-hematotox-smart', launch: 'launch-123', aud: ehr.fhirBase, code_challenge_method: 'S256', redirect_uri: `${server.baseUrl}/smart/index.html` });
    expect(auth['scope']?.split(' ').sort()).toEqual(EHR_LAUNCH_SCOPES.split(' ').sort());
    expect(auth['code_challenge']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ehr.tokens.at(-1)?.verifierMatches).toBe(true);
    expect(ehr.fhirRequests.length).toBeGreaterThanOrEqual(4);
    expect(ehr.fhirRequests.every((r) => r.authorized)).toBe(true);
    // Observations bounded to the look-back period, like the cards' own fetch.
    expect(ehr.fhirRequests.some((r) => /^\/Observation\?patient=cart-biphasic&code=.+&date=ge\d{4}-\d{2}-\d{2}/.test(r.path))).toBe(true);

    const storage = await page.evaluate<{ session: string; local: string }>('({ session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage) })');
    expect(storage.session).toContain('access_token');
    expect(storage.local).not.toContain('access_token');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('intermittent');
    await expect(page.locator('[data-testid=recommendation][data-kind=cytopenia-workup]').getAttribute('class')).resolves.toContain('focused');
    expect(problems).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'ehr-launch-cart-biphasic.png') });
  }, 90_000);

  test('standalone launch: the user picks an allowed server; the authorization server picks the patient', async () => {
    ehr.launch = { patient: 'cart-aplastic' };
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html`);
    expect(await settled(page)).toBe('ready');
    await expect(page.getByRole('link', { name: /^cart-aplastic: / }).getAttribute('href')).resolves.toBe('./index.html?patient=cart-aplastic');
    await page.getByRole('button', { name: `Sign in to ${ehr.fhirBase}` }).click();
    await page.waitForURL(`${server.baseUrl}/smart/index.html**`);
    expect(await settled(page)).toBe('ready');
    const auth = ehr.authorizations.at(-1)?.query ?? {};
    expect(auth['scope']?.split(' ')).toContain('launch/patient');
    expect(auth['launch']).toBeUndefined();
    expect(auth['code_challenge_method']).toBe('S256');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('aplastic');
  }, 90_000);

  test('an iss that is not on the allow-list receives nothing', async () => {
    const attacker = await fakeServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    try {
      const page = await newPage();
      await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(`${attacker.url}/fhir`)}&launch=x`);
      expect(await settled(page)).toBe('refused');
      await expect(page.getByTestId('status').textContent()).resolves.toContain('is not an allowed FHIR server');
      await page.waitForTimeout(500);
      expect(attacker.requests).toEqual([]);
    } finally {
      await attacker.close();
    }
  }, 60_000);

  test.each([['fhirServiceUrl'], ['patientId'], ['clientId']])('the fhirclient test parameter %s is refused', async (param) => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.fhirBase)}&launch=x&${param}=http%3A%2F%2Fevil.example`);
    expect(await settled(page)).toBe('refused');
  }, 60_000);

  test('an authorization server without PKCE S256 is not used', async () => {
    const before = ehr.authorizations.length;
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.noPkceFhirBase)}&launch=x`);
    expect(await settled(page)).toBe('error');
    await expect(page.getByTestId('status').textContent()).resolves.toContain('S256');
    expect(ehr.authorizations.length).toBe(before);
  }, 60_000);

  test('a FHIR error says what failed; Retry loads the record', async () => {
    ehr.launch = { patient: 'cart-quick' };
    ehr.failObservations(1);
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.fhirBase)}&launch=retry`);
    expect(await settled(page)).toBe('error');
    const message = (await page.getByTestId('status').textContent()) ?? '';
    expect(message).toContain('Observations');
    expect(message).toContain('HTTP 500');
    expect(message).toMatch(/Request: Observation\?patient=cart-quick&code=\(\d+ codes\)&date=ge\d{4}-\d{2}-\d{2}/);
    await page.screenshot({ path: join(SCREENSHOTS, 'fhir-error-retry.png') });
    await page.getByTestId('retry').click();
    expect(await settled(page)).toBe('ready');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('quick');
    // The failed request is the only console error the browser reports.
    expect(problems.filter((p) => !p.includes('500'))).toEqual([]);
  }, 90_000);

  test('a next-page link leaving the FHIR server is not followed (the token stays home)', async () => {
    const evil = await fakeServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"resourceType":"Bundle"}'));
    ehr.launch = { patient: 'cart-quick' };
    ehr.hostileNextLink(`${evil.url}/steal`);
    try {
      const page = await newPage();
      await page.goto(`${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.fhirBase)}&launch=next`);
      expect(await settled(page)).toBe('error');
      await expect(page.getByTestId('status').textContent()).resolves.toContain('next-page link outside');
      expect(evil.requests).toEqual([]);
    } finally {
      ehr.hostileNextLink(undefined);
      await evil.close();
    }
  }, 60_000);
});
