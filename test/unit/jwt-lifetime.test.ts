/**
 * A CDS client's token lives at most CDS_JWT_MAX_LIFETIME_SECONDS (plus the clock tolerance) from
 * its `iat`, and so does its jti in the replay store. Before, only the age of `iat` was bounded: a
 * token with `exp` ten years on was accepted, and its jti kept until then.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { JWK } from 'jose';
import { SignJWT } from 'jose';
import { CdsJwtVerifier, type ReplayStore } from '../../src/cds-hooks/auth.js';

const ISS = 'https://ehr.example.org';
const AUD = 'https://cds.example.org/cds-services/cart-hematotox-patient-view';
const NOW = 1_795_000_000; // seconds
const MAX = 300;
const TOLERANCE = 30;
const YEAR = 365 * 86_400;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'ec-1' };

/** A verifier at NOW whose replay store records the expiry of every jti it is given. */
function verifier(): { verifier: CdsJwtVerifier; remembered: number[] } {
  const remembered: number[] = [];
  const replay: ReplayStore = {
    kind: 'memory',
    remember: (_iss, _jti, expiresAtMs, nowMs) => remembered.push(expiresAtMs - nowMs) > 0,
  };
  return {
    verifier: new CdsJwtVerifier({
      issuers: [{ iss: ISS, jwks: { keys: [jwk] } }],
      clockToleranceSeconds: TOLERANCE,
      maxLifetimeSeconds: MAX,
      now: () => new Date(NOW * 1000),
      replay,
    }),
    remembered,
  };
}

async function token(iat: number, exp: number): Promise<string> {
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid: 'ec-1', typ: 'JWT' })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(privateKey);
}

describe('the lifetime of a CDS client token (exp - iat)', () => {
  test.each<[string, number, number, true | string]>([
    [
      'ten years',
      NOW,
      NOW + 10 * YEAR,
      'token lifetime (exp - iat) of 315360000 s is longer than 330 s (CDS_JWT_MAX_LIFETIME_SECONDS plus the clock tolerance)',
    ],
    [
      '331 s: the cap, the tolerance and a second',
      NOW,
      NOW + 331,
      'token lifetime (exp - iat) of 331 s is longer than 330 s (CDS_JWT_MAX_LIFETIME_SECONDS plus the clock tolerance)',
    ],
    [
      'an hour, issued 200 s ago',
      NOW - 200,
      NOW + 3400,
      'token lifetime (exp - iat) of 3600 s is longer than 330 s (CDS_JWT_MAX_LIFETIME_SECONDS plus the clock tolerance)',
    ],
    ['330 s: the cap and the tolerance', NOW, NOW + 330, true],
    ['300 s, issued 100 s ago', NOW - 100, NOW + 200, true],
  ])('%s', async (_name, iat, exp, outcome) => {
    const { verifier: v, remembered } = verifier();
    const result = await v.verify(await token(iat, exp), AUD);
    if (outcome === true) {
      expect(result).toMatchObject({ ok: true, iss: ISS });
      expect(remembered).toEqual([(exp + TOLERANCE - NOW) * 1000]);
    } else {
      expect(result).toEqual({ ok: false, reason: outcome, code: 'lifetime-too-long' });
      expect(remembered).toEqual([]); // refused before its jti is kept
    }
  });

  test('any lifetime: refused over the cap and the tolerance; a jti is never kept longer than they allow', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -(MAX + TOLERANCE) + 1, max: TOLERANCE - 1 }), // iat within what its age check lets through
        fc.integer({ min: 0, max: 20 * YEAR }),
        async (issued, lifetime) => {
          const { verifier: v, remembered } = verifier();
          const result = await v.verify(await token(NOW + issued, NOW + issued + lifetime), AUD);
          if (lifetime > MAX + TOLERANCE) expect(result).toMatchObject({ ok: false, code: 'lifetime-too-long' });
          else expect(result).not.toMatchObject({ code: 'lifetime-too-long' });
          for (const ms of remembered) expect(ms).toBeLessThanOrEqual((MAX + 3 * TOLERANCE) * 1000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
