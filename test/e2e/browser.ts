/**
 * What every browser test file of the SMART app starts: the real service (demo FHIR server on),
 * the stand-in EHR (test/helpers/mock-ehr.ts) on the allow-list, and Debian's headless Chromium
 * driven by playwright-core. Pages record page errors and console errors as `problems`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { projectRoot } from '../../src/profiles.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { LogCapture } from '../helpers/app.js';
import { startMockEhr, type MockEhr } from '../helpers/mock-ehr.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(projectRoot(), 'test', 'e2e', 'screenshots');
/** An allowed FHIR server with a long base URL (launch.html must lay it out), never contacted. */
export const LONG_ISS =
  'https://fhir-r4-production.ehr-integration.university-hospital.example.org/api/FHIR/R4/tenants/haematology-and-oncology/cart';

export const DESKTOP = { width: 1280, height: 800 };
export const TABLET = { width: 768, height: 1024 };

export interface E2e {
  server: RunningServer;
  ehr: MockEhr;
  browser: Browser;
  /** A new page in a new context (no shared storage), recording problems. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Page errors and console errors of the last page opened. */
  problems: string[];
  closeContexts(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the EHR stand-in, the service and Chromium. The service allows the stand-in's FHIR
 * servers and LONG_ISS; the stand-in's server without PKCE is EHR-launch only. `env` adds to it.
 */
export async function startE2e(env: Record<string, string> = {}): Promise<E2e> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const ehr = await startMockEhr();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DEMO: 'true',
    FHIR_ALLOW_HTTP: 'true',
    SMART_ALLOWED_ISS: `${ehr.fhirBase},${ehr.noPkceFhirBase},${LONG_ISS}`,
    SMART_EHR_ONLY_ISS: ehr.noPkceFhirBase,
    FEEDBACK_SQLITE_PATH: ':memory:',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const server = await startServer(config, createLogger('silent', new LogCapture()));
  ehr.setUpstream(`${server.baseUrl}/demo/fhir`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const contexts: BrowserContext[] = [];
  const e2e: E2e = {
    server,
    ehr,
    browser,
    problems: [],
    async newPage(viewport = DESKTOP) {
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      e2e.problems = problems;
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        // The browser asks every origin for /favicon.ico; nothing else may fail.
        if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(`console: ${m.text()}`);
      });
      return page;
    },
    async closeContexts() {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
    },
    async close() {
      await browser.close();
      await server.close();
      await ehr.close();
    },
  };
  return e2e;
}

/** Waits until the app's status leaves "loading"; returns the state ("ready", "error", "refused"). */
export async function settled(page: Page, problems: readonly string[] = []): Promise<string> {
  const status = page.getByTestId('status');
  try {
    await page.waitForSelector('[data-testid=status]:not([data-state=loading])', {
      state: 'attached',
      timeout: 30_000,
    });
  } catch (error) {
    throw new Error(
      `the app did not settle: "${(await status.textContent()) ?? ''}" at ${page.url()}; ${problems.join('; ')}`,
      { cause: error },
    );
  }
  return (await status.getAttribute('data-state')) ?? '';
}

/** Top and bottom (CSS px, relative to the viewport) of the first element matching `selector`. */
export async function box(page: Page, selector: string): Promise<{ top: number; bottom: number; right: number }> {
  const b = await page.locator(selector).first().boundingBox();
  if (!b) throw new Error(`${selector} is not rendered`);
  return { top: Math.round(b.y), bottom: Math.round(b.y + b.height), right: Math.round(b.x + b.width) };
}

/** Controls a user can see and use (buttons, inputs, links). */
export function visibleControls(page: Page): Promise<number> {
  return page.locator('button:visible, input:visible, a[href]:visible').count();
}

/** axe-core's serious and critical WCAG 2.1 A/AA violations on the page, as "rule: targets". */
export async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  // An empty page or an axe that did not run would pass nothing: that is not a result.
  if (result.passes.length < 10)
    throw new Error(`axe-core checked almost nothing (${result.passes.length} rules passed)`);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The value of attribute `name` on every element `locator` matches. */
export function attributesOf(locator: Locator, name: string): Promise<(string | null)[]> {
  return locator.evaluateAll(
    (els, attr) => els.map((e) => (e as unknown as { getAttribute(n: string): string | null }).getAttribute(attr)),
    name,
  );
}
