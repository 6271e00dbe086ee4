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

export const SMART_PATH = '/smart';

/** Where `npm run build` puts the app; undefined when it has not been built. */
export function smartAppDir(): string | undefined {
  const dir = join(projectRoot(), 'dist', 'smart-app');
  return existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'launch.html')) ? dir : undefined;
}

/**
 * Content-Security-Policy of the app: its own scripts and styles only (no CDN), and connections to
 * itself and to FHIR/authorization servers over https (plus any allowed http test issuer). Only
 * these directives: helmet's defaults would add `frame-ancestors 'self'`, which blocks the launch
 * inside the EHR's iframe, and `upgrade-insecure-requests`, which breaks the demo over http.
 */
function contentSecurityPolicy(config: Config): RequestHandler {
  const httpIssuers = config.smart.allowedIss.filter((i) => i.startsWith('http://')).map((i) => new URL(i).origin);
  return helmetCsp({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'", 'https:', ...httpIssuers],
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
  } else {
    router.use(SMART_PATH, () => {
      throw notFound('The SMART app is not built: run `npm run build`');
    });
  }
  return router;
}
