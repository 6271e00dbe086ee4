/**
 * Trusting CDS clients: with trusted issuers configured, discovery, services and feedback need a
 * CDS Hooks JWT verified with jose. Keys are real (ES384, RS384); the EHR's JWKS endpoint is faked
 * at the HTTP boundary.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CryptoKey, JWK } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { CdsJwtVerifier } from '../../src/cds-hooks/auth.js';
import { buildTestApp, hookRequest, type TestApp } from '../helpers/app.js';
import { fakeServer } from '../helpers/servers.js';

const ISS = 'https://ehr.example.org/';
const BASE = 'https://cds.example.org';
const SERVICE_PATH = '/cds-services/cart-hematotox-patient-view';

let ec: { privateKey: CryptoKey; jwk: JWK };
let rsa: { privateKey: CryptoKey; jwk: JWK };
let app: TestApp;

async function keyPair(alg: 'ES384' | 'RS384', kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' } };
}

interface TokenOptions {
  iss?: string;
  aud?: string;
  alg?: string;
  key?: CryptoKey | Uint8Array;
  kid?: string;
  typ?: string | null;
  iat?: number;
  exp?: number;
  jti?: string | null;
}

async function token(path: string, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const header: Record<string, string> = { alg: o.alg ?? 'ES384', kid: o.kid ?? 'ec-1' };
  if (o.typ !== null) header['typ'] = o.typ ?? 'JWT';
  const jwt = new SignJWT({ ...(o.jti === null ? {} : { jti: o.jti ?? randomUUID() }), tenant: 'hospital-a' })
    .setProtectedHeader(header as { alg: string })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? `${BASE}${path}`)
    .setIssuedAt(o.iat ?? now)
    .setExpirationTime(o.exp ?? now + 300);
  return jwt.sign(o.key ?? ec.privateKey);
}

const body = hookRequest('patient-view', 'p1', {
  prefetch: { patient: null, observations: null, medicationAdministrations: null, procedures: null, conditions: null },
});

beforeAll(async () => {
  ec = await keyPair('ES384', 'ec-1');
  rsa = await keyPair('RS384', 'rsa-1');
  const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
  const file = join(dir, 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [ec.jwk, rsa.jwk] }));
  app = buildTestApp({
    env: { PUBLIC_BASE_URL: BASE, CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile: file }]) },
  });
});

describe('with trusted issuers configured', () => {
  test('a valid ES384 token lets the call through', async () => {
    await request(app.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH)}`)
      .send(body)
      .expect(200);
  });

  test('a valid RS384 token lets the call through', async () => {
    await request(app.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH, { alg: 'RS384', key: rsa.privateKey, kid: 'rsa-1' })}`)
      .send(body)
      .expect(200);
  });

  test('discovery and feedback need a token too; the aud is the URL called', async () => {
    await request(app.app).get('/cds-services').expect(401);
    await request(app.app)
      .get('/cds-services')
      .set('authorization', `Bearer ${await token('/cds-services')}`)
      .expect(200);
    const feedback = `${SERVICE_PATH}/feedback`;
    await request(app.app).post(feedback).send({ feedback: [] }).expect(401);
    // Authenticated, then validated: an empty feedback array is a 400, not a 401.
    await request(app.app)
      .post(feedback)
      .set('authorization', `Bearer ${await token(feedback)}`)
      .send({ feedback: [] })
      .expect(400);
  });

  test.each([
    ['the URL called', `${BASE}${SERVICE_PATH}`],
    ['the URL called with a trailing slash', `${BASE}${SERVICE_PATH}/`],
    ['the service base URL (as Epic sites type it)', BASE],
    ['the service base URL with a trailing slash', `${BASE}/`],
    ['the discovery URL', `${BASE}/cds-services`],
  ])('aud accepted: %s', async (_name, aud) => {
    await request(app.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH, { aud })}`)
      .send(body)
      .expect(200);
  });

  test.each(['bearer', 'BEARER', 'BeArEr'])(
    'the Authorization scheme is case-insensitive (RFC 7235): %s',
    async (scheme) => {
      await request(app.app)
        .post(SERVICE_PATH)
        .set('authorization', `${scheme} ${await token(SERVICE_PATH)}`)
        .send(body)
        .expect(200);
    },
  );

  test('CDS_JWT_AUDIENCES adds the audiences a deployment configures, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [ec.jwk] }));
    const configured = buildTestApp({
      env: {
        PUBLIC_BASE_URL: BASE,
        CDS_JWT_AUDIENCES: 'https://gateway.hospital.example/cart',
        CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile: file }]),
      },
    });
    await request(configured.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH, { aud: 'https://gateway.hospital.example/cart' })}`)
      .send(body)
      .expect(200);
    await request(configured.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH, { aud: 'https://gateway.hospital.example/other' })}`)
      .send(body)
      .expect(401);
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  test.each<[string, () => Promise<string>]>([
    ['aud of a look-alike host', async () => token(SERVICE_PATH, { aud: `${BASE}.evil.example${SERVICE_PATH}` })],
    ['aud of the base URL of another host', async () => token(SERVICE_PATH, { aud: 'https://other.example.org' })],
    ['no token', async () => ''],
    [
      'alg none',
      async () => {
        const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: ISS, aud: `${BASE}${SERVICE_PATH}`, iat: now(), exp: now() + 300, jti: randomUUID() })}.`;
      },
    ],
    [
      'HS384 signed with the public key as secret',
      async () => token(SERVICE_PATH, { alg: 'HS384', key: new TextEncoder().encode(JSON.stringify(ec.jwk)) }),
    ],
    [
      'RS256 (not an allowed algorithm)',
      async () => {
        const { privateKey } = await generateKeyPair('RS256');
        return token(SERVICE_PATH, { alg: 'RS256', key: privateKey, kid: 'rsa-1' });
      },
    ],
    [
      'signed by an unknown key',
      async () => {
        const other = await keyPair('ES384', 'ec-1');
        return token(SERVICE_PATH, { key: other.privateKey });
      },
    ],
    ['untrusted issuer', async () => token(SERVICE_PATH, { iss: 'https://evil.example/' })],
    ['aud of another service', async () => token(SERVICE_PATH, { aud: `${BASE}/cds-services/other` })],
    ['aud of another host', async () => token(SERVICE_PATH, { aud: `https://other.example.org${SERVICE_PATH}` })],
    ['expired beyond the clock tolerance', async () => token(SERVICE_PATH, { iat: now() - 200, exp: now() - 120 })],
    ['issued in the future', async () => token(SERVICE_PATH, { iat: now() + 600, exp: now() + 900 })],
    ['older than the maximum lifetime', async () => token(SERVICE_PATH, { iat: now() - 1000, exp: now() + 300 })],
    ['no jti', async () => token(SERVICE_PATH, { jti: null })],
    ['no typ header', async () => token(SERVICE_PATH, { typ: null })],
  ])('bare 401 for %s, and the token is not logged', async (_name, make) => {
    const jwt = await make();
    const req = request(app.app).post(SERVICE_PATH).send(body);
    if (jwt) void req.set('authorization', `Bearer ${jwt}`);
    const res = await req.expect(401);
    expect(res.text).toBe('');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    if (jwt) expect(app.logs.text).not.toContain(jwt.split('.')[2] || jwt.split('.')[1]);
  });

  test('a token expired within the clock tolerance (30 s) is accepted', async () => {
    const t = Math.floor(Date.now() / 1000);
    await request(app.app)
      .post(SERVICE_PATH)
      .set('authorization', `Bearer ${await token(SERVICE_PATH, { iat: t - 100, exp: t - 10 })}`)
      .send(body)
      .expect(200);
  });

  // Before: only the age of iat was checked, and a token with exp ten years on was let through.
  test('a token living longer than CDS_JWT_MAX_LIFETIME_SECONDS and the tolerance: bare 401, counted as lifetime-too-long', async () => {
    const t = now();
    const jwt = await token(SERVICE_PATH, { iat: t, exp: t + 10 * 365 * 86_400 });
    const res = await request(app.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body).expect(401);
    expect(res.text).toBe('');
    expect(app.logs.text).toContain('token lifetime (exp - iat) of 315360000 s is longer than 330 s');
    expect((await request(app.app).get('/metrics')).text).toMatch(
      /cds_jwt_refusals_total\{reason="lifetime-too-long"\} 1\n/,
    );
  });

  test('a replayed jti is refused', async () => {
    const jwt = await token(SERVICE_PATH);
    await request(app.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body).expect(200);
    await request(app.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body).expect(401);
    expect(app.logs.text).toContain('jti replayed');
  });

  test('a jti longer than 256 characters is refused (the replay store stays bounded)', async () => {
    const jwt = await token(SERVICE_PATH, { jti: 'j'.repeat(257) });
    await request(app.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body).expect(401);
  });

  test('when the shared replay store does not answer, the call is refused with 503, never let through unchecked', async () => {
    // As configured: the keys read from each jwksFile are the configuration's, not the variable's.
    const issuers = app.config.auth.trustedIssuers.map(({ iss, jwksFile }) => ({ iss, jwksFile }));
    const down = buildTestApp({
      env: { PUBLIC_BASE_URL: BASE, CDS_TRUSTED_ISSUERS: JSON.stringify(issuers) },
      overrides: {
        replay: {
          kind: 'postgres',
          remember: () => Promise.reject(new Error('connection refused')),
        },
      },
    });
    const jwt = await token(SERVICE_PATH);
    const res = await request(down.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
    expect((await request(down.app).get('/metrics')).text).toMatch(
      /cds_jwt_refusals_total\{reason="replay-store-unavailable"\} 1/,
    );
  });
});

describe('remote JWKS', () => {
  let jwks: Awaited<ReturnType<typeof fakeServer>>;
  beforeAll(async () => {
    jwks = await fakeServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [ec.jwk] }));
    });
  });
  afterAll(async () => {
    await jwks.close();
  });

  test('keys are fetched from the issuer JWKS URL, never from the token jku', async () => {
    const verifier = new CdsJwtVerifier({
      issuers: [{ iss: ISS, jwksUrl: `${jwks.url}/jwks.json` }],
      clockToleranceSeconds: 30,
      maxLifetimeSeconds: 300,
    });
    const remote = buildTestApp({
      env: {
        PUBLIC_BASE_URL: BASE,
        CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksUrl: 'https://ehr.example.org/jwks.json' }]),
      },
      overrides: { verifier },
    });
    const evil = await fakeServer((_req, res) => res.end('{"keys":[]}'));
    try {
      const now = Math.floor(Date.now() / 1000);
      const jwt = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES384', kid: 'ec-1', typ: 'JWT', jku: `${evil.url}/jwks` })
        .setIssuer(ISS)
        .setAudience(`${BASE}${SERVICE_PATH}`)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(ec.privateKey);
      await request(remote.app).post(SERVICE_PATH).set('authorization', `Bearer ${jwt}`).send(body).expect(200);
      expect(jwks.requests).toEqual(['/jwks.json']);
      expect(evil.requests).toEqual([]);
    } finally {
      await evil.close();
    }
  });
});

describe('without trusted issuers', () => {
  test('the service runs open', async () => {
    const open = buildTestApp();
    await request(open.app).post(SERVICE_PATH).send(body).expect(200);
    await request(open.app).get('/cds-services').expect(200);
  });
});

describe('a jwksFile that cannot be used', () => {
  // Before: a bare "SyntaxError: Unexpected end of JSON input" stack, after storage was opened.
  test('stops the service before it opens storage, naming the variable, the issuer and the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, '');
    const sqlite = join(dir, 'feedback.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        PUBLIC_BASE_URL: BASE,
        CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile: file }]),
        FEEDBACK_SQLITE_PATH: sqlite,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `Invalid configuration:\n  CDS_TRUSTED_ISSUERS: issuer "${ISS}": jwksFile ${file} is not JSON\n`,
    });
    expect(existsSync(sqlite)).toBe(false);
  }, 30_000);
});
