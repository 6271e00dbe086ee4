/**
 * A stand-in EHR for browser tests of the SMART launch: what cannot run here (an EHR's
 * authorization server) mocked at its HTTP boundary. It publishes a SMART configuration, runs the
 * authorization-code flow with PKCE (and checks it), and serves FHIR by proxying to the real
 * embedded demo FHIR server behind a bearer token. It records every request so tests can assert
 * what the app sent, and can be told to fail a read, answer one with any body (HTTP 200) or send a
 * hostile next-page link, to grant fewer scopes than requested, to give refresh tokens (for
 * `online_access`), and to revoke access tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';

export interface AuthorizeRecord {
  query: Record<string, string>;
}

export interface TokenRecord {
  form: Record<string, string>;
  verifierMatches: boolean;
}

export interface MockEhr {
  /** FHIR base URL (`iss`). */
  fhirBase: string;
  /** A second FHIR base whose SMART configuration does not offer PKCE S256. */
  noPkceFhirBase: string;
  authorizations: AuthorizeRecord[];
  tokens: TokenRecord[];
  /** Every FHIR request: path and whether it carried the issued bearer token. */
  fhirRequests: { path: string; authorized: boolean }[];
  /** Launch context the token response carries. */
  launch: { patient: string; appContext?: string };
  /** Scopes granted for the requested ones (default: all of them). */
  grantScopes: (requested: string) => string;
  /** Give a refresh token when `online_access` is granted (default false). */
  issueRefreshTokens: boolean;
  /** Refresh-token grants answered (with a new access token). */
  refreshes: number;
  /** Every access token issued so far stops working (401), as when an EHR revokes a session. */
  revokeAccessTokens(): void;
  /** Fail the next `n` Observation searches with HTTP 500. */
  failObservations(n: number): void;
  /** Make Observation searches answer with a next link to `url`. */
  hostileNextLink(url: string | undefined): void;
  /** Answer each FHIR request (path under the base, e.g. `Patient/x`) with HTTP 200 and `answer(path)` when it gives a body. */
  answerWith(answer: ((path: string) => unknown) | undefined): void;
  setUpstream(demoFhirBase: string): void;
  close(): Promise<void>;
}

const b64url = (buf: Buffer): string => buf.toString('base64url');

export async function startMockEhr(): Promise<MockEhr> {
  const codes = new Map<string, { challenge: string; method: string; redirectUri: string; scope: string }>();
  const tokens = new Set<string>();
  let upstream = '';
  let failures = 0;
  let hostileNext: string | undefined;
  let answer: ((path: string) => unknown) | undefined;
  const state: Omit<
    MockEhr,
    | 'fhirBase'
    | 'noPkceFhirBase'
    | 'failObservations'
    | 'hostileNextLink'
    | 'answerWith'
    | 'setUpstream'
    | 'close'
    | 'revokeAccessTokens'
  > = {
    authorizations: [],
    tokens: [],
    fhirRequests: [],
    launch: { patient: 'cart-biphasic' },
    grantScopes: (requested) => requested,
    issueRefreshTokens: false,
    refreshes: 0,
  };
  const refreshTokens = new Map<string, string>();

  const app = express();
  let base = '';
  app.use((req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, accept');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });

  const smartConfiguration = (pkce: boolean) => ({
    issuer: base,
    authorization_endpoint: `${base}/auth/authorize`,
    token_endpoint: `${base}/auth/token`,
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: pkce ? ['S256'] : ['plain'],
    capabilities: [
      'launch-ehr',
      'launch-standalone',
      'client-public',
      'context-ehr-patient',
      'context-standalone-patient',
      'permission-v2',
      'sso-openid-connect',
    ],
    scopes_supported: ['launch', 'launch/patient', 'openid', 'fhirUser', 'patient/*.rs'],
  });
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => res.json(smartConfiguration(true)));
  app.get('/nopkce/fhir/.well-known/smart-configuration', (_req, res) => res.json(smartConfiguration(false)));

  app.get('/auth/authorize', (req: Request, res: Response) => {
    const query = Object.fromEntries(
      Object.entries(req.query).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
    state.authorizations.push({ query });
    if (
      query['response_type'] !== 'code' ||
      query['code_challenge_method'] !== 'S256' ||
      !query['code_challenge'] ||
      !query['redirect_uri'] ||
      !query['state']
    ) {
      res.status(400).send('invalid authorization request');
      return;
    }
    const code = b64url(randomBytes(16));
    codes.set(code, {
      challenge: query['code_challenge'],
      method: query['code_challenge_method'],
      redirectUri: query['redirect_uri'],
      scope: query['scope'] ?? '',
    });
    const back = new URL(query['redirect_uri']);
    back.searchParams.set('code', code);
    back.searchParams.set('state', query['state']);
    res.redirect(302, back.href);
  });

  app.post('/auth/token', express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    const form = Object.fromEntries(
      Object.entries(req.body as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    if (form['grant_type'] === 'refresh_token') {
      const scope = refreshTokens.get(form['refresh_token'] ?? '');
      if (scope === undefined) {
        res.status(400).json({ error: 'invalid_grant' });
        return;
      }
      state.refreshes++;
      const accessToken = b64url(randomBytes(24));
      tokens.add(accessToken);
      res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600, scope });
      return;
    }
    const grant = codes.get(form['code'] ?? '');
    const verifierMatches =
      !!grant &&
      b64url(
        createHash('sha256')
          .update(form['code_verifier'] ?? '')
          .digest(),
      ) === grant.challenge;
    state.tokens.push({ form, verifierMatches });
    if (!grant || !verifierMatches || form['redirect_uri'] !== grant.redirectUri) {
      res.status(400).json({ error: 'invalid_grant' });
      return;
    }
    codes.delete(form['code'] ?? '');
    const accessToken = b64url(randomBytes(24));
    tokens.add(accessToken);
    const scope = state.grantScopes(grant.scope);
    let refreshToken: string | undefined;
    if (state.issueRefreshTokens && /\bonline_access\b/.test(scope)) {
      refreshToken = b64url(randomBytes(24));
      refreshTokens.set(refreshToken, scope);
    }
    res.json({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      scope,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      patient: state.launch.patient,
      ...(state.launch.appContext ? { appContext: state.launch.appContext } : {}),
    });
  });

  app.use('/fhir', async (req: Request, res: Response) => {
    const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    const authorized = bearer !== undefined && tokens.has(bearer);
    state.fhirRequests.push({ path: req.url, authorized });
    if (!authorized) {
      res.status(401).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      return;
    }
    if (req.path.startsWith('/Observation') && failures > 0) {
      failures--;
      res.status(500).json({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'exception', diagnostics: 'database unavailable' }],
      });
      return;
    }
    const answered = answer?.(req.url.slice(1));
    if (answered !== undefined) {
      res.status(200).type('application/fhir+json').send(JSON.stringify(answered));
      return;
    }
    const upstreamRes = await fetch(`${upstream}${req.url}`, { headers: { accept: 'application/fhir+json' } });
    let text = (await upstreamRes.text()).replaceAll(upstream, `${base}/fhir`);
    if (hostileNext && req.path.startsWith('/Observation')) {
      const bundle = JSON.parse(text) as { link?: { relation: string; url: string }[] };
      bundle.link = [
        ...(bundle.link ?? []).filter((l) => l.relation !== 'next'),
        { relation: 'next', url: hostileNext },
      ];
      text = JSON.stringify(bundle);
    }
    res.status(upstreamRes.status).type('application/fhir+json').send(text);
  });

  const server: Server = await new Promise((resolve) => {
    const s = createServer(app).listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    fhirBase: `${base}/fhir`,
    noPkceFhirBase: `${base}/nopkce/fhir`,
    failObservations: (n: number) => {
      failures = n;
    },
    hostileNextLink: (url: string | undefined) => {
      hostileNext = url;
    },
    answerWith: (fn: ((path: string) => unknown) | undefined) => {
      answer = fn;
    },
    setUpstream: (demoFhirBase: string) => {
      upstream = demoFhirBase;
    },
    revokeAccessTokens: () => {
      tokens.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
