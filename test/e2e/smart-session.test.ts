/**
 * The SMART session on the ward, against the stand-in EHR (test/helpers/mock-ehr.ts) in a real
 * headless Chromium: a revoked or expired token (401) ends the session with "reopen from the EHR"
 * and no dead Retry, or is renewed once with a refresh token when `online_access` was granted;
 * Conditions (CRS) are read only when granted, and the app says when they were not; the app runs
 * inside an EHR's iframe from an origin on SMART_FRAME_ANCESTORS and nowhere else; launch.html lays
 * out long FHIR URLs and leaves EHR-launch-only servers out of the standalone choice.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Frame, Page } from 'playwright-core';
import { fakeServer } from '../helpers/servers.js';
import {
  attributesOf,
  box,
  DESKTOP,
  LONG_ISS,
  SCREENSHOTS,
  seriousViolations,
  settled,
  startE2e,
  TABLET,
  visibleControls,
  type E2e,
} from './browser.js';

let e2e: E2e;
/** A page of "the EHR" embedding the app in an iframe, from an origin on SMART_FRAME_ANCESTORS, and one not on it. */
let ehrPortal: Awaited<ReturnType<typeof fakeServer>>;
let foreignPortal: Awaited<ReturnType<typeof fakeServer>>;
let launchUrl = '';

/**
 * The portals' address on the app's site (localhost, another port): another origin, but the same
 * site, so the browser lets the framed app use sessionStorage (what a cross-site EHR needs is below).
 */
const portal = (server: { url: string }): string => server.url.replace('127.0.0.1', 'localhost');

const portalPage = (): string =>
  `<!doctype html><html lang="en"><title>EHR</title><body><iframe id="app" title="CAR-T hematotoxicity" src="${launchUrl}" width="1200" height="760"></iframe></body></html>`;

beforeAll(async () => {
  const serve = (_req: unknown, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(portalPage());
  };
  ehrPortal = await fakeServer(serve);
  foreignPortal = await fakeServer(serve);
  e2e = await startE2e({ SMART_FRAME_ANCESTORS: `${portal(ehrPortal)},${ehrPortal.url}` });
}, 120_000);
afterAll(async () => {
  await e2e?.close();
  await ehrPortal?.close();
  await foreignPortal?.close();
});
beforeEach(() => {
  e2e.ehr.grantScopes = (requested) => requested;
  e2e.ehr.issueRefreshTokens = false;
});
afterEach(async () => {
  e2e.ehr.answerWith(undefined);
  await e2e?.closeContexts();
});

const ehrLaunch = (patient: string, launch: string): string => {
  e2e.ehr.launch = { patient };
  return `${e2e.server.baseUrl}/smart/launch.html?iss=${encodeURIComponent(e2e.ehr.fhirBase)}&launch=${launch}`;
};

async function launched(patient: string, launch: string): Promise<Page> {
  const page = await e2e.newPage();
  await page.goto(ehrLaunch(patient, launch));
  expect(await settled(page, e2e.problems)).toBe('ready');
  return page;
}

const storage = (page: Page): Promise<{ session: string; local: string }> =>
  page.evaluate('({ session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage) })');

describe('a token the FHIR server refuses (401)', () => {
  test('without a refresh token: "reopen from the EHR", no Retry, tokens removed from sessionStorage', async () => {
    const page = await launched('cart-quick', 'revoked');
    expect(e2e.ehr.authorizations.at(-1)?.query['scope']?.split(' ')).toContain('online_access');
    e2e.ehr.revokeAccessTokens();
    await page.getByRole('button', { name: 'Read the record again' }).click();
    expect(await settled(page, e2e.problems)).toBe('error');
    const message = (await page.getByTestId('status').textContent()) ?? '';
    expect(message).toContain('Your session with the EHR has ended');
    expect(message).toContain('open the app again from the patient’s chart in the EHR');
    await expect(visibleControls(page)).resolves.toBe(0);
    await expect(storage(page)).resolves.toMatchObject({ session: expect.not.stringContaining('access_token') });
    await expect(seriousViolations(page)).resolves.toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'session-ended.png') });
  }, 60_000);

  test('with a refresh token (online_access granted): renewed once, the record is read again', async () => {
    e2e.ehr.issueRefreshTokens = true;
    const page = await launched('cart-quick', 'refresh');
    const before = (await storage(page)).session;
    const refreshes = e2e.ehr.refreshes;
    e2e.ehr.revokeAccessTokens();
    await page.getByRole('button', { name: 'Read the record again' }).click();
    expect(await settled(page, e2e.problems)).toBe('ready');
    // Reads run in parallel; one renewal serves them all.
    expect(e2e.ehr.refreshes - refreshes).toBe(1);
    const after = await storage(page);
    expect(after.session).toContain('access_token');
    expect(after.session).not.toBe(before);
    expect(after.local).not.toContain('access_token');
    await expect(page.getByTestId('patient-name').isVisible()).resolves.toBe(true);
  }, 60_000);
});

describe('a FHIR server answering with something else than asked', () => {
  async function failed(patient: string, launch: string): Promise<{ page: Page; message: string }> {
    const page = await e2e.newPage();
    await page.goto(ehrLaunch(patient, launch));
    expect(await settled(page, e2e.problems)).toBe('error');
    return { page, message: (await page.getByTestId('status').textContent()) ?? '' };
  }

  test('every search answered HTTP 200 with an OperationOutcome: a failed read with its diagnostics and Retry, no record', async () => {
    const outcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'too-costly', diagnostics: 'search too costly' }],
    };
    e2e.ehr.answerWith((path) => (path.startsWith('Patient/') ? undefined : outcome));
    const { page, message } = await failed('cart-quick', 'oo200');
    expect(message).toMatch(
      /^Could not read the record\. (Observations|Medication administrations|Procedures) \(.*\): the server answered with an OperationOutcome instead of a Bundle of search results: search too costly/,
    );
    expect(message).toMatch(/Request: (Observation|MedicationAdministration|Procedure)\?patient=cart-quick/);
    await expect(page.getByTestId('retry').isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('patient-name').count()).resolves.toBe(0);
    await expect(page.locator('#view').isHidden()).resolves.toBe(true);
  }, 60_000);

  test('Patient/<id> answered with another patient: an error naming both ids, no name or MRN on screen or print', async () => {
    const other = {
      resourceType: 'Patient',
      id: 'someone-else',
      name: [{ use: 'official', family: 'Otherperson', given: ['Eve'] }],
      identifier: [{ type: { coding: [{ code: 'MR' }] }, value: 'MRN-OTHER-77' }],
      birthDate: '1950-01-01',
    };
    e2e.ehr.answerWith((path) => (path.startsWith('Patient/') ? other : undefined));
    const { page, message } = await failed('cart-quick', 'other-patient');
    expect(message).toContain(
      'The FHIR server answered Patient/cart-quick with a different patient (someone-else): nothing is shown.',
    );
    await expect(page.getByTestId('retry').isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('patient-name').count()).resolves.toBe(0);
    const shown = await page.evaluate(
      "document.body.innerText + getComputedStyle(document.documentElement).getPropertyValue('--print-patient')",
    );
    expect(shown).not.toMatch(/Otherperson|Eve|MRN-OTHER-77|1950-01-01/);
  }, 60_000);

  test('a Patient whose name is a string and identifier an object: the banner says so, the record is shown', async () => {
    const patient = { resourceType: 'Patient', id: 'cart-quick', name: 'Quick', identifier: { value: 'X' } };
    e2e.ehr.answerWith((path) => (path.startsWith('Patient/') ? patient : undefined));
    const page = await e2e.newPage();
    await page.goto(ehrLaunch('cart-quick', 'malformed-name'));
    expect(await settled(page, e2e.problems)).toBe('ready');
    await expect(page.getByTestId('patient-name').textContent()).resolves.toBe(
      'Patient cart-quick (name not readable)',
    );
    await expect(page.getByTestId('phenotype').textContent()).resolves.toBe('quick');
    expect(e2e.problems).toEqual([]);
  }, 60_000);

  test('a search whose total exceeds what it holds, with no next link: the data-quality panel says so', async () => {
    const searchset = (total?: number): unknown => ({ resourceType: 'Bundle', type: 'searchset', entry: [], total });
    e2e.ehr.answerWith((path) =>
      path.startsWith('Patient/') ? undefined : searchset(path.startsWith('Observation') ? 100_000 : undefined),
    );
    const page = await e2e.newPage();
    await page.goto(ehrLaunch('cart-quick', 'truncated'));
    expect(await settled(page, e2e.problems)).toBe('ready');
    await expect(page.getByTestId('no-data-issues').count()).resolves.toBe(0);
    await expect(page.locator('[data-testid=data-issue][data-code=data-unavailable]').textContent()).resolves.toContain(
      "the EHR's Observation search reports 100,000 results but holds 0, with no link to the rest",
    );
  }, 60_000);
});

describe('CRS recorded as a Condition', () => {
  test('granted patient/Condition.rs: Conditions are read and the CRS grade shown', async () => {
    const before = e2e.ehr.fhirRequests.length;
    const page = await launched('cart-aplastic', 'crs');
    const paths = e2e.ehr.fhirRequests.slice(before).map((r) => r.path);
    expect(paths.some((p) => p.startsWith('/Condition?patient=cart-aplastic'))).toBe(true);
    await expect(page.getByTestId('crs-grade').textContent()).resolves.toMatch(/^CRS grade \d from day \+\d+/);
    await expect(page.getByTestId('crs-unavailable').count()).resolves.toBe(0);
  }, 60_000);

  test('not granted: Conditions are not requested and the app says CRS data was not available', async () => {
    e2e.ehr.grantScopes = (requested) => requested.replace(' patient/Condition.rs', '');
    const before = e2e.ehr.fhirRequests.length;
    const page = await launched('cart-aplastic', 'no-crs');
    const paths = e2e.ehr.fhirRequests.slice(before).map((r) => r.path);
    expect(paths.some((p) => p.startsWith('/Condition'))).toBe(false);
    await expect(page.getByTestId('crs-grade').textContent()).resolves.toMatch(
      /^CRS grade: not available; tocilizumab/,
    );
    await expect(page.getByTestId('crs-unavailable').textContent()).resolves.toContain(
      'the EHR did not grant the scope patient/Condition.rs',
    );
  }, 60_000);
});

describe('inside the EHR', () => {
  const appFrame = async (page: Page): Promise<Frame> => {
    const handle = await page.waitForSelector('#app');
    const frame = await handle.contentFrame();
    if (!frame) throw new Error('no iframe');
    return frame;
  };

  test('an EHR origin on SMART_FRAME_ANCESTORS embeds the app; the EHR launch completes in the iframe', async () => {
    launchUrl = ehrLaunch('cart-biphasic', 'iframe');
    const page = await e2e.newPage({ width: 1280, height: 800 });
    await page.goto(`${portal(ehrPortal)}/chart`);
    const frame = await appFrame(page);
    await frame.waitForSelector('[data-testid=status][data-state=ready]', { state: 'attached', timeout: 30_000 });
    expect(frame.url()).toBe(`${e2e.server.baseUrl}/smart/index.html`);
    await expect(frame.getByTestId('phenotype').textContent()).resolves.toBe('intermittent');
  }, 60_000);

  test('a cross-site EHR whose browser blocks storage for embedded sites: the app says to open it in its own window', async () => {
    launchUrl = ehrLaunch('cart-biphasic', 'cross-site');
    const page = await e2e.newPage();
    await page.goto(`${ehrPortal.url}/chart`);
    const frame = await appFrame(page);
    await frame.waitForSelector('[data-testid=status]:not([data-state=loading])', {
      state: 'attached',
      timeout: 30_000,
    });
    // Headless Chromium blocks storage for a cross-site frame (localhost app, 127.0.0.1 EHR page).
    await expect(frame.locator('[data-testid=status]').getAttribute('data-state')).resolves.toBe('error');
    await expect(frame.locator('[data-testid=status]').textContent()).resolves.toContain(
      'Open the app in its own window',
    );
    await expect(frame.locator('button:visible').count()).resolves.toBe(0);
  }, 60_000);

  test('any other origin cannot frame it (CSP frame-ancestors)', async () => {
    launchUrl = ehrLaunch('cart-biphasic', 'foreign');
    const before = e2e.ehr.authorizations.length;
    const page = await e2e.newPage();
    await page.goto(`${portal(foreignPortal)}/chart`);
    const frame = await appFrame(page);
    await page.waitForTimeout(1_000);
    await expect(frame.locator('[data-testid=status]').count()).resolves.toBe(0);
    expect(e2e.ehr.authorizations.length).toBe(before);
  }, 60_000);
});

describe('launch.html', () => {
  test.each([
    ['desktop', DESKTOP],
    ['tablet', TABLET],
  ])(
    '%s: long FHIR URLs wrap, the heading is above the list, EHR-launch-only servers are not offered',
    async (_n, viewport) => {
      const page = await e2e.newPage(viewport);
      await page.goto(`${e2e.server.baseUrl}/smart/launch.html`);
      expect(await settled(page, e2e.problems)).toBe('ready');
      await expect(
        page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
      ).resolves.toBeLessThanOrEqual(0);
      const offered = await attributesOf(page.locator('button[data-iss]'), 'data-iss');
      expect(offered).toEqual([e2e.ehr.fhirBase, LONG_ISS]);
      const long = await box(page, `button[data-iss="${LONG_ISS}"]`);
      expect(long.right).toBeLessThanOrEqual(viewport.width);
      expect((await box(page, '#servers-title')).bottom).toBeLessThanOrEqual(
        (await box(page, '[data-testid=servers]')).top,
      );
      await expect(page.locator('#chooser').textContent()).resolves.toContain(
        'One more server is opened from the EHR only.',
      );
      await expect(seriousViolations(page)).resolves.toEqual([]);
      if (viewport === DESKTOP) await page.screenshot({ path: join(SCREENSHOTS, 'launch.png') });
    },
    60_000,
  );
});
