/**
 * What a hematologist sees, in a real headless Chromium at 1280×800 (desktop) and 768×1024 (ward
 * tablet): the first screen answers "how is this patient, and what do I do?" without scrolling;
 * charts show the clinically relevant range with labels clear of the data and of each other, the
 * latest value until hovered, only the patient's own events, and a text alternative; axe-core finds
 * no serious or critical violation; printing gives at most 2 A4 pages, each naming the patient.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  attributesOf,
  box,
  DESKTOP,
  SCREENSHOTS,
  seriousViolations,
  settled,
  startE2e,
  TABLET,
  visibleControls,
  type E2e,
} from './browser.js';
import { pdfPageTexts } from './pdf-text.js';

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e();
}, 120_000);
afterAll(async () => {
  await e2e?.close();
});
afterEach(async () => {
  await e2e?.closeContexts();
});

async function open(patient: string, viewport = DESKTOP): Promise<Page> {
  const page = await e2e.newPage(viewport);
  await page.goto(`${e2e.server.baseUrl}/smart/?patient=${patient}`);
  expect(await settled(page, e2e.problems)).toBe('ready');
  return page;
}

/** The parts of the first screen, in the order a clinician reads them. */
const FIRST_SCREEN = [
  '[data-testid=patient-name]',
  '[data-testid=birth-date]',
  '[data-testid=day]',
  '[data-testid=product]',
  '[data-testid=latest-anc]',
  '[data-testid=latest-platelets]',
  '[data-testid=latest-hemoglobin]',
  '[data-testid=now-icaht]',
  '#recommendations',
];

describe.each([
  ['desktop', DESKTOP, ''],
  ['tablet', TABLET, '-tablet'],
])('the first screen (%s)', (_name, viewport, suffix) => {
  // cart-day9 has the most recommendations (three) of the demo patients: the hardest case to fit.
  test.each(['cart-day9', 'cart-aplastic'])(
    '%s: banner, latest counts with dates, ICAHT and the recommendations by urgency without scrolling; charts follow',
    async (patient) => {
      const page = await open(patient, viewport);
      for (const selector of FIRST_SCREEN) {
        const b = await box(page, selector);
        expect({
          selector,
          top: b.top >= 0,
          bottom: b.bottom <= viewport.height,
          right: b.right <= viewport.width,
        }).toEqual({ selector, top: true, bottom: true, right: true });
      }
      const summaryBottom = (await box(page, '#recommendations')).bottom;
      expect((await box(page, '#timeline')).top).toBeGreaterThan(summaryBottom);
      await expect(page.evaluate('window.scrollY')).resolves.toBe(0);
      for (const analyte of ['anc', 'platelets', 'hemoglobin'])
        await expect(page.getByTestId(`latest-${analyte}`).textContent()).resolves.toMatch(
          /\d{4}-\d{2}-\d{2}, day [+-]\d+/,
        );
      const urgencies = await attributesOf(page.getByTestId('recommendation'), 'data-urgency');
      const rank = { critical: 0, warning: 1, info: 2 } as Record<string, number>;
      expect(urgencies.map((u) => rank[u ?? ''])).toEqual([...urgencies.map((u) => rank[u ?? ''])].sort());
      await expect(
        page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
      ).resolves.toBeLessThanOrEqual(0);
      expect(e2e.problems).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, `${patient}${suffix}.png`) });
    },
    60_000,
  );

  test('axe-core finds no serious or critical violation', async () => {
    const page = await open('cart-aplastic', viewport);
    await page.locator('details.chart-data summary').first().click();
    await expect(seriousViolations(page)).resolves.toEqual([]);
  }, 60_000);
});

test('the loading screen shows progress and no control that does nothing yet', async () => {
  const page = await e2e.newPage(DESKTOP);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/demo/fhir/Observation?**', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${e2e.server.baseUrl}/smart/?patient=cart-quick`);
  await page.getByTestId('progress').waitFor();
  await expect(page.getByTestId('status').getAttribute('data-state')).resolves.toBe('loading');
  await expect(visibleControls(page)).resolves.toBe(0);
  await expect(seriousViolations(page)).resolves.toEqual([]);
  release();
  expect(await settled(page, e2e.problems)).toBe('ready');
  await expect(visibleControls(page)).resolves.toBeGreaterThan(0);
}, 60_000);

describe('charts', () => {
  test('ANC on a log axis: the 0.1 and 0.5 lines at least 30 px apart; labels in the gutter, never overlapping', async () => {
    const page = await open('cart-aplastic');
    const figures = page.locator('figure.lane[data-analyte]');
    const json = async <T>(name: string): Promise<T[]> =>
      (await attributesOf(figures, name)).map((v) => JSON.parse(v ?? '[]') as T);
    const analytes = await attributesOf(figures, 'data-analyte');
    const lines = await json<{ value: number; y: number }[]>('data-lines');
    const labels =
      await json<{ text: string; top: number; bottom: number; left: number; right: number }[]>('data-labels');
    const plotRights = await attributesOf(figures, 'data-plot-right');
    const lanes = analytes.map((analyte, i) => ({
      analyte,
      lines: lines[i] ?? [],
      labels: labels[i] ?? [],
      plotRight: Number(plotRights[i]),
    }));
    expect(lanes.map((l) => l.analyte)).toEqual(['anc', 'platelets', 'hemoglobin']);
    const anc = lanes[0];
    const y = (v: number): number => anc?.lines.find((l) => l.value === v)?.y ?? NaN;
    expect(y(0.1) - y(0.5)).toBeGreaterThanOrEqual(30);
    await expect(page.locator('figure[data-analyte=anc] figcaption').textContent()).resolves.toContain('log scale');
    for (const lane of lanes) {
      // Threshold labels always shown; every label right of the data, none overlapping another.
      expect(lane.labels.map((l) => l.text)).toEqual(
        expect.arrayContaining(lane.lines.length > 0 ? [expect.stringContaining('severe')] : []),
      );
      for (const [i, a] of lane.labels.entries()) {
        expect(a.left).toBeGreaterThan(lane.plotRight);
        for (const b of lane.labels.slice(i + 1)) {
          const apart = a.bottom <= b.top || b.bottom <= a.top || a.right <= b.left || b.right <= a.left;
          expect({ lane: lane.analyte, a: a.text, b: b.text, apart }).toMatchObject({ apart: true });
        }
      }
    }
  }, 60_000);

  test('the readout shows the latest value until a day is hovered, and again after', async () => {
    const page = await open('cart-aplastic');
    const readout = page.getByTestId('readout-anc');
    const latest = (await page.getByTestId('latest-anc').locator('.tile-value').textContent()) ?? '';
    await expect(readout.textContent()).resolves.toMatch(
      new RegExp(
        `^Latest: ${latest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on day \\+\\d+ \\(\\d{4}-\\d{2}-\\d{2}\\)$`,
      ),
    );
    const plot = page.locator('figure[data-analyte=anc] .u-over');
    const b = await plot.boundingBox();
    if (!b) throw new Error('no ANC plot');
    await page.mouse.move(b.x + b.width * 0.4, b.y + b.height / 2);
    await expect(readout.textContent()).resolves.toMatch(/^day [+-]\d+ \(\d{4}-\d{2}-\d{2}\): [\d.]+ ×10⁹\/L$/);
    // The cursor is synchronised: the platelet readout shows the same day.
    const day = /^(day [+-]\d+)/.exec((await readout.textContent()) ?? '')?.[1] ?? '';
    await expect(page.getByTestId('readout-platelets').textContent()).resolves.toContain(day);
    await page.mouse.move(5, 5);
    await expect(readout.textContent()).resolves.toMatch(/^Latest: /);
  }, 60_000);

  test('the events legend lists only the kinds of event the patient had', async () => {
    const page = await open('cart-aplastic');
    const legend = await attributesOf(page.locator('#legend [data-kind]'), 'data-kind');
    const codes = await page.locator('[data-testid=events] td .event').allTextContents();
    const legendCodes = await page.locator('#legend [data-kind] b').allTextContents();
    expect([...new Set(codes)].sort()).toEqual([...legendCodes].sort());
    expect(legend).not.toContain('ivig');
    expect(legend).not.toContain('allogeneic-hsct');
  }, 60_000);

  test('every chart has a text alternative: a summary, and its values as a table', async () => {
    const page = await open('cart-aplastic');
    for (const analyte of ['anc', 'platelets', 'hemoglobin']) {
      const figure = page.locator(`figure[data-analyte=${analyte}]`);
      await expect(figure.locator('.plot').getAttribute('aria-hidden')).resolves.toBe('true');
      await expect(figure.locator('.chart-summary').textContent()).resolves.toMatch(
        /\d+ values from day -?\+?\d+ to day \+\d+; lowest since day 0 /,
      );
      await figure.locator('details.chart-data summary').click();
      const rows = await figure.locator('details.chart-data tbody tr').count();
      const count = Number(/(\d+) values/.exec((await figure.locator('.chart-summary').textContent()) ?? '')?.[1]);
      expect(rows).toBe(count);
    }
    await expect(page.locator('#immune .chart-summary').textContent()).resolves.toMatch(/^IgG: \d+ values/);
  }, 60_000);

  test('a skip link is the first thing the keyboard reaches and moves focus to the summary', async () => {
    const page = await open('cart-aplastic');
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement.className')).resolves.toBe('skip-link');
    expect((await box(page, '.skip-link')).top).toBeGreaterThanOrEqual(0);
    await page.keyboard.press('Enter');
    await expect(page.evaluate('document.activeElement.id')).resolves.toBe('view');
  }, 60_000);
});

describe('print', () => {
  test.each(['cart-aplastic', 'cart-day9', 'cart-day200-low-igg'])(
    '%s: at most 2 A4 pages, each with name, birth date, identifier and the date printed',
    async (patient) => {
      const page = await open(patient);
      const name = (await page.getByTestId('patient-name').textContent()) ?? '';
      const born = /born \d{4}-\d{2}-\d{2}/.exec((await page.getByTestId('birth-date').textContent()) ?? '')?.[0] ?? '';
      const identifier = (await page.getByTestId('identifier').textContent()) ?? '';
      expect(born).not.toBe('');
      expect(identifier).toMatch(/^MRN /);
      await page.emulateMedia({ media: 'print' });
      const pages = pdfPageTexts(await page.pdf({ format: 'A4', printBackground: true }));
      expect(pages.length).toBeGreaterThanOrEqual(1);
      expect(pages.length).toBeLessThanOrEqual(2);
      const today = new Date();
      const printed = `Printed ${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
      const squash = (s: string): string => s.replace(/\s+/g, '');
      for (const [i, text] of pages.entries()) {
        for (const wanted of [name, born, identifier, printed, `page ${i + 1} of ${pages.length}`])
          expect(`page ${i + 1}: ${squash(text)}`).toContain(squash(wanted));
      }
      // The charts are on paper, within the page: in print media at A4 width, after beforeprint redrew
      // them, every lane is drawn, no wider than the page's content.
      await page.setViewportSize({ width: 794, height: 1123 });
      await page.evaluate("window.dispatchEvent(new Event('beforeprint'))");
      const content = (await page.locator('#timeline').boundingBox())?.width ?? 0;
      const canvases = await page.locator('#timeline figure.lane[data-analyte] canvas').all();
      expect(canvases).toHaveLength(3);
      for (const canvas of canvases) {
        const b = await canvas.boundingBox();
        expect({ drawn: (b?.width ?? 0) >= 300 && (b?.height ?? 0) >= 80, within: (b?.width ?? 0) <= content }).toEqual(
          {
            drawn: true,
            within: true,
          },
        );
      }
      if (patient === 'cart-aplastic')
        await page.screenshot({ path: join(SCREENSHOTS, 'cart-aplastic-print.png'), fullPage: true });
    },
    60_000,
  );
});
