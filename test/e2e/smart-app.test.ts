/**
 * The SMART app in a real headless Chromium (Debian's, driven by playwright-core) against the real
 * service: the embedded demo FHIR server for direct demo opening, and a stand-in EHR (authorization
 * server + FHIR proxy, test/helpers/mock-ehr.ts) for the SMART EHR launch with PKCE.
 *
 * The expected grades and recommendations for the demo patients are fixed values, worked out by
 * hand from the demo generator's data (src/demo, seeded, so the same counts every run) with the rules
 * of docs/clinical-logic.md; see DEMO_EXPECTATIONS. They are not computed by the engine under test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { EHR_LAUNCH_SCOPES } from '../../src/smart-config.js';
import type { MockEhr } from '../helpers/mock-ehr.js';
import { fakeServer } from '../helpers/servers.js';
import { SCREENSHOTS, settled as settledWith, startE2e, visibleControls, type E2e } from './browser.js';

let e2e: E2e;
let server: E2e['server'];
let ehr: MockEhr;
let problems: string[];

beforeAll(async () => {
  e2e = await startE2e();
  server = e2e.server;
  ehr = e2e.ehr;
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
  const page = await e2e.newPage(viewport);
  problems = e2e.problems;
  return page;
}

afterEach(async () => {
  await e2e?.closeContexts();
});

const settled = (page: Page): Promise<string> => settledWith(page, problems);

/**
 * What the app must show for three demo patients, worked out by hand from the counts the demo
 * generator writes (seeded: the same values on every run; only the dates move with today). Baseline
 * is the day −6 sample (the last before fludarabine on day −5); days 0–30 have one count a day.
 * Units as the app reads them: ANC and platelets ×10⁹/L, Hb g/L, CRP mg/dL, ferritin ng/mL.
 *
 * cart-quick (female, day +45, US units):
 *  - ANC ≤ 0.5 on days 1–10 (0.08 … 0.32; 1.51 from day 11) = 10 days → early ICAHT 2 (7–13 days).
 *    ANC ≤ 0.1 on days 1 (0.08) and 5 (0.09) only; days 2–4 between them (0.13, 0.16, 0.29) are 3
 *    days above, a stable recovery, so 2 days: no grade from that column.
 *  - PLT lowest 55.3 (day 5), never < 50 → T-ICAHT 0.
 *  - One ANC ≤ 0.5 run of 10 days (< 14), recovered on day 11 with no later dip → quick.
 *  - Day 28: ANC 3.68, PLT 263, Hb 136.5 g/L; no severe lineage → PHT no.
 *  - Baseline PLT 308 (> 175: 0), ANC 3.72 (0), Hb 132 (0), CRP 1.2 (≤ 3.0: 0), ferritin 546
 *    (< 650: 0) → CAR-HEMATOTOX 0, low.
 *  - Latest ANC 3.76 on day 44, LLN 1.8 → CTCAE 0. Latest ANC/Hb/PLT 3.76/134.7/276, IgG 948
 *    mg/dL (≥ 400), ICAHT < 3, no PHT → no recommendation.
 * cart-biphasic (male, day +40, SI units):
 *  - ANC ≤ 0.5 on days 3–9 and 22–25 = 11 days (grade 2). ANC ≤ 0.1 on days 4 (0.08), 6 (0.10),
 *    9 (0.08) and 24 (0.08); days 5 and 7–8 lie in non-stable recoveries (< 3 days above) and count,
 *    so days 4–9 + 24 = 7 days → grade 3 (≥ 7 days ≤ 0.1). Early ICAHT 3.
 *  - PLT < 50 on days 4–11 and 24–30 = 15 days (≥ 7: grade 2); < 20 on days 4–11 (3.6 … 14.7) = 8
 *    days (1–13: grade 3); no platelet transfusion → T-ICAHT 3.
 *  - ANC ≤ 0.5 days 3–9, recovery on day 10 (2.24, 1.52, 1.71), a second dip from day 22 (> +21) →
 *    intermittent.
 *  - Day 28: ANC 3.41, PLT 45.5, Hb 88.4 g/L; no severe lineage → PHT no.
 *  - Baseline PLT 42.2 (< 75: 2), ANC 3.64 (0), Hb 89 (< 90: 1), CRP 43 mg/L = 4.3 mg/dL (> 3.0: 1),
 *    ferritin 2807 (> 2000: 2) → 6, high.
 *  - Latest ANC 3.68 on day 40 → CTCAE 0. Early ICAHT ≥ 3 → cytopenia work-up; ANC 3.68, Hb 89,
 *    PLT 39.6 and IgG 11.2 g/L = 1120 mg/dL trigger nothing else.
 * cart-aplastic (male, day +35, SI units):
 *  - ANC ≤ 0.5 on every day from 3 to 30 (0.08 … 0.37) = 28 days (grade 3 by the count); days 0–2
 *    above 0.5 (1.58, 1.41, 1.31), the dip starts on day 3 (≤ day +3) and never recovers through day 30
 *    → grade 4 "no recovery" (EHA/EBMT Table 1 as Liang et al.'s grader reads it, docs §6). ANC ≤ 0.1 on
 *    days 3, 9, 24, 26, 30 plus day 25 (one day above between 24 and 26) = 6 days (< 7). Early ICAHT 4.
 *  - PLT < 50 on days 9–17 = 9 days (grade 2); < 20 on days 9, 10, 13–17, and days 11–12 (42.8,
 *    42.2, after the day 10 platelet transfusion) are a non-stable recovery → 9 days (grade 3).
 *    T-ICAHT 3.
 *  - ANC ≤ 0.5 from day 3 to the last count (day 33): a run ≥ 14 days → aplastic.
 *  - Day 28: ANC 0.27 (< 0.5, episode since day 3) → PHT yes.
 *  - Baseline PLT 114 (75–175: 1), ANC 2.48 (0), Hb 98.6 (0), CRP 61.7 mg/L = 6.17 mg/dL (1),
 *    ferritin 3442 (2) → 4, high.
 *  - Latest ANC 0.18 on day 33 (< 0.5) → CTCAE 4, but G-CSF is given daily from day 3 to day 34: on
 *    G-CSF, so no G-CSF card; PHT and ICAHT 4 → the work-up card (which says "despite G-CSF").
 *    Hb 105.2, PLT 109.6, IgG 8.7 g/L = 870 mg/dL trigger nothing else.
 */
const DEMO_EXPECTATIONS = [
  {
    patientId: 'cart-quick',
    day: 45,
    phenotype: 'quick',
    icahtEarly: '2',
    tIcahtEarly: '0',
    pht: 'no',
    hematotox: '0 (low risk)',
    ancLatestGrade: '0',
    recommendations: [],
  },
  {
    patientId: 'cart-biphasic',
    day: 40,
    phenotype: 'intermittent',
    icahtEarly: '3',
    tIcahtEarly: '3',
    pht: 'no',
    hematotox: '6 (high risk)',
    ancLatestGrade: '0',
    recommendations: ['cytopenia-workup'],
  },
  {
    patientId: 'cart-aplastic',
    day: 35,
    phenotype: 'aplastic',
    icahtEarly: '4',
    tIcahtEarly: '3',
    pht: 'yes',
    hematotox: '4 (high risk)',
    ancLatestGrade: '4',
    recommendations: ['cytopenia-workup'],
  },
] as const;

describe.each(DEMO_EXPECTATIONS)('demo patient $patientId opened directly', (x) => {
  test('shows the hand-computed grades and recommendations, with no console error', async () => {
    const page = await newPage();
    const t0 = Date.now();
    await page.goto(`${server.baseUrl}/smart/?patient=${x.patientId}`);
    expect(await settled(page)).toBe('ready');
    const seconds = (Date.now() - t0) / 1000;
    await page.screenshot({ path: join(SCREENSHOTS, `${x.patientId}.png`) });

    await expect(page.getByTestId('day').textContent()).resolves.toBe(`day +${x.day}`);
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe(x.phenotype);
    await expect(page.getByTestId('icaht-early-grade').textContent()).resolves.toBe(x.icahtEarly);
    await expect(page.getByTestId('ticaht-early-grade').textContent()).resolves.toBe(x.tIcahtEarly);
    await expect(page.getByTestId('pht').textContent()).resolves.toBe(x.pht);
    await expect(page.getByTestId('hematotox-score').textContent()).resolves.toBe(x.hematotox);
    await expect(page.getByTestId('ctcae-latest-neutrophils').textContent()).resolves.toBe(x.ancLatestGrade);
    const shown = await page
      .getByTestId('recommendation')
      .evaluateAll((els) =>
        els.map((e) => (e as { getAttribute(name: string): string | null }).getAttribute('data-kind')),
      );
    expect(shown).toEqual(x.recommendations);
    // The timeline: events strip and the three count lanes, day −7 to today.
    await expect(page.locator('figure.lane').count()).resolves.toBe(4);
    await expect(page.locator('#timeline').getAttribute('data-range')).resolves.toBe(`-7,${x.day + 1}`);
    expect(problems).toEqual([]);
    expect(seconds).toBeLessThan(20);
  }, 90_000);
});

describe('the view', () => {
  test('PHT and the work-up for the aplastic patient; zoom and extra lanes; no controls printed', async () => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/?patient=cart-aplastic`);
    expect(await settled(page)).toBe('ready');
    await expect(page.getByTestId('pht').textContent()).resolves.toBe('yes');
    await expect(
      page.locator('[data-testid=recommendation][data-kind=cytopenia-workup] a').first().getAttribute('href'),
    ).resolves.toBe('https://doi.org/10.1182/blood.2023020578');

    await page.getByRole('button', { name: 'to +90' }).click();
    await expect(page.locator('#timeline').getAttribute('data-range')).resolves.toBe('-7,90');
    await expect(page.getByRole('button', { name: 'to +90' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await page.getByLabel('WBC').check();
    await expect(page.locator('figure.lane[data-analyte=wbc]').count()).resolves.toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'cart-aplastic-90-days-wbc.png') });

    await page.emulateMedia({ media: 'print' });
    await expect(page.locator('#toolbar').isVisible()).resolves.toBe(false);
    await expect(page.locator('#panels').isVisible()).resolves.toBe(true);
    expect(problems).toEqual([]);
  }, 90_000);

  /** A patient's own record for the demo server: instants from day 0 (10 days ago), Observation entries. */
  const ownRecord = (patient: string) => {
    const day0 = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const at = (days: number): string => new Date(Date.parse(`${day0}T08:00:00Z`) + days * 86_400_000).toISOString();
    const obs = (id: string, code: string, value: number, unit: string, days: number) => ({
      resource: {
        resourceType: 'Observation',
        id,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code }] },
        subject: { reference: `Patient/${patient}` },
        effectiveDateTime: at(days),
        valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
      },
      request: { method: 'PUT', url: `Observation/${id}` },
    });
    const put = (resource: { resourceType: string; id: string } & Record<string, unknown>) => ({
      resource,
      request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
    });
    /** Loads the patient and `entries` into the demo FHIR server in one transaction. */
    const load = async (...entries: unknown[]): Promise<void> => {
      const patientEntry = put({ resourceType: 'Patient', id: patient, gender: 'female', birthDate: '1990-01-01' });
      const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [patientEntry, ...entries] };
      const res = await fetch(`${server.baseUrl}/demo/fhir`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(bundle),
      });
      expect(res.status).toBe(200);
    };
    return { at, obs, put, load };
  };

  test('unreadable units and missing values are shown, not hidden', async () => {
    const patient = 'e2e-bad-units';
    const { at, obs, put, load } = ownRecord(patient);
    await load(
      put({
        resourceType: 'MedicationAdministration',
        id: `${patient}-cart`,
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
        subject: { reference: `Patient/${patient}` },
        effectiveDateTime: at(0),
      }),
      obs(`${patient}-anc-1`, '751-8', 0.3, '10*9/L', 5),
      obs(`${patient}-anc-2`, '751-8', 4, 'furlongs', 6),
      obs(`${patient}-plt-1`, '777-3', 55, '10*9/L', 6),
    );

    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/?patient=${patient}`);
    expect(await settled(page)).toBe('ready');
    await expect(page.locator('[data-testid=data-issue][data-code=unit-unreadable]').textContent()).resolves.toContain(
      'furlongs',
    );
    await expect(page.locator('[data-testid=data-issue][data-code=data-gap]').count()).resolves.toBe(1);
    await expect(page.getByTestId('icaht-gaps').textContent()).resolves.toContain('not measured');
    await expect(page.getByTestId('icaht-early-grade').textContent()).resolves.toMatch(/^≥ /);
    await expect(page.locator('#hematotox .missing').count()).resolves.toBe(5);
    expect(problems).toEqual([]);
  }, 90_000);

  test('a CAR-T product given by medicationReference: the app reads the Medication, as the cards do, and finds day 0', async () => {
    const patient = 'e2e-by-reference';
    const { at, obs, put, load } = ownRecord(patient);
    await load(
      // NDC 0078-0846-19: tisagenlecleucel (car-t-product ValueSet)
      put({
        resourceType: 'Medication',
        id: `${patient}-kymriah`,
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0078-0846-19' }] },
      }),
      put({
        resourceType: 'MedicationAdministration',
        id: `${patient}-cart`,
        status: 'completed',
        medicationReference: { reference: `Medication/${patient}-kymriah` },
        subject: { reference: `Patient/${patient}` },
        effectiveDateTime: at(0),
      }),
      obs(`${patient}-anc-1`, '751-8', 0.3, '10*9/L', 5),
    );

    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/?patient=${patient}`);
    expect(await settled(page)).toBe('ready');
    // Day 0 from the product's Medication (before: no infusion found, and no assessment counted from it).
    await expect(page.getByTestId('day').textContent()).resolves.toBe('day +10');
    await expect(page.locator('[data-testid=data-issue][data-code=medication-unknown]').count()).resolves.toBe(0);
    expect(problems).toEqual([]);
  }, 90_000);

  test('opening index.html without a launch explains what to do, with no dead controls', async () => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/index.html`);
    expect(await settled(page)).toBe('error');
    await expect(page.getByTestId('status').textContent()).resolves.toContain('Open the app from the EHR');
    // No control that cannot do anything: no toolbar, print, reload or skip link on an error screen.
    await expect(visibleControls(page)).resolves.toBe(0);
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
    expect(auth).toMatchObject({
      response_type: 'code',
      client_id: 'cart-hematotox-smart',
      launch: 'launch-123',
      aud: ehr.fhirBase,
      code_challenge_method: 'S256',
      redirect_uri: `${server.baseUrl}/smart/index.html`,
    });
    expect(auth['scope']?.split(' ').sort()).toEqual(EHR_LAUNCH_SCOPES.split(' ').sort());
    expect(auth['code_challenge']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ehr.tokens.at(-1)?.verifierMatches).toBe(true);
    expect(ehr.fhirRequests.length).toBeGreaterThanOrEqual(4);
    expect(ehr.fhirRequests.every((r) => r.authorized)).toBe(true);
    // Observations bounded to the look-back period, like the cards' own fetch.
    expect(
      ehr.fhirRequests.some((r) =>
        /^\/Observation\?patient=cart-biphasic&code=.+&date=ge\d{4}-\d{2}-\d{2}/.test(r.path),
      ),
    ).toBe(true);

    const storage = await page.evaluate<{ session: string; local: string }>(
      '({ session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage) })',
    );
    expect(storage.session).toContain('access_token');
    expect(storage.local).not.toContain('access_token');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('intermittent');
    await expect(
      page.locator('[data-testid=recommendation][data-kind=cytopenia-workup]').getAttribute('class'),
    ).resolves.toContain('focused');
    expect(problems).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'ehr-launch-cart-biphasic.png') });
  }, 90_000);

  test('standalone launch: the user picks an allowed server; the authorization server picks the patient', async () => {
    ehr.launch = { patient: 'cart-aplastic' };
    const page = await newPage();
    await page.goto(`${server.baseUrl}/smart/launch.html`);
    expect(await settled(page)).toBe('ready');
    await expect(page.getByRole('link', { name: /^cart-aplastic: / }).getAttribute('href')).resolves.toBe(
      './index.html?patient=cart-aplastic',
    );
    await page.getByRole('button', { name: `Sign in to ${ehr.fhirBase}` }).click();
    await page.waitForURL(`${server.baseUrl}/smart/index.html**`);
    expect(await settled(page)).toBe('ready');
    const auth = ehr.authorizations.at(-1)?.query ?? {};
    expect(auth['scope']?.split(' ')).toContain('launch/patient');
    expect(auth['launch']).toBeUndefined();
    expect(auth['code_challenge_method']).toBe('S256');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('aplastic');
    // Grade 4 rests on "no recovery", not on the day count: the app shows the fact that decides it.
    await expect(page.locator('body').textContent()).resolves.toContain(
      'no neutrophil recovery from day +3 through day +30',
    );
  }, 90_000);

  test('an iss that is not on the allow-list receives nothing', async () => {
    const attacker = await fakeServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
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

  test.each([['fhirServiceUrl'], ['patientId'], ['clientId']])(
    'the fhirclient test parameter %s is refused',
    async (param) => {
      const page = await newPage();
      await page.goto(
        `${server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(ehr.fhirBase)}&launch=x&${param}=http%3A%2F%2Fevil.example`,
      );
      expect(await settled(page)).toBe('refused');
    },
    60_000,
  );

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
    // Retry is the only control on the error screen, and it works (below).
    await expect(visibleControls(page)).resolves.toBe(1);
    await page.getByTestId('retry').click();
    expect(await settled(page)).toBe('ready');
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('quick');
    // The failed request is the only console error the browser reports.
    expect(problems.filter((p) => !p.includes('500'))).toEqual([]);
  }, 90_000);

  test('a next-page link leaving the FHIR server is not followed (the token stays home)', async () => {
    const evil = await fakeServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"resourceType":"Bundle"}'),
    );
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
