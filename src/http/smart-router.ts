/**
 * Serves the SMART app (the Vite build in dist/smart-app) under /smart, and its configuration at
 * /smart/config.json: client id, scopes, the `iss` allow-list, the demo FHIR server, and the
 * ValueSets and hospital thresholds so the browser runs the engine exactly as the cards do.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import express, { Router } from 'express';
import { contentSecurityPolicy as helmetCsp } from 'helmet';
import type { Config } from '../config.js';
import { projectRoot } from '../profiles.js';
import type { SmartAppConfig } from '../smart-config.js';
import { notFound } from '../cds-hooks/outcomes.js';
import { allowOnly } from '../cds-hooks/allow-only.js';

export const SMART_PATH = '/smart';

/** Where `npm run build` puts the app; undefined when it has not been built. */
export function smartAppDir(): string | undefined {
  const dir = join(projectRoot(), 'dist', 'smart-app');
  return existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'launch.html')) ? dir : undefined;
}

/** The origins the app's pages may connect to besides their own: FHIR servers and token endpoints. */
export function smartConnectOrigins(config: Config): string[] {
  return [...new Set([...config.smart.allowedIss.map((iss) => new URL(iss).origin), ...config.smart.authOrigins])];
}

/**
 * Content-Security-Policy of the app: its own scripts and styles only (no CDN); connections to
 * itself, the allowed FHIR servers (SMART_ALLOWED_ISS: their `.well-known/smart-configuration` and
 * data) and token endpoints on other origins (SMART_AUTH_ORIGINS); embedding by this origin and the
 * EHRs of SMART_FRAME_ANCESTORS only (EHRs open SMART apps in an iframe). Not helmet's defaults:
 * `upgrade-insecure-requests` would break the demo over http.
 */
function contentSecurityPolicy(config: Config): RequestHandler {
  return helmetCsp({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'", ...smartConnectOrigins(config)],
      frameAncestors: ["'self'", ...config.smart.frameAncestors],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
    },
  });
}

export function smartRouter(config: Config, appConfig: SmartAppConfig, dir: string | undefined): Router {
  const router = Router();
  router.use(SMART_PATH, contentSecurityPolicy(config));
  router.get(`${SMART_PATH}/config.json`, (_req: Request, res: Response) => {
    res.json(appConfig);
  });
  if (dir) {
    router.use(
      SMART_PATH,
      express.static(dir, { index: 'index.html', redirect: true, fallthrough: true, cacheControl: false }),
    );
    // Static files only: a POST, PUT… on any of them is 405; a GET of a missing one goes on to 404.
    router.all(`${SMART_PATH}/{*path}`, allowOnly('GET'));
  } else {
    router.use(SMART_PATH, () => {
      throw notFound('The SMART app is not built: run `npm run build`');
    });
  }
  return router;
}
