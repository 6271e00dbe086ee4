/**
 * A CDS client's JWT as an EHR signs it (CDS Hooks 2.0 "Trusting CDS Clients"): ES384, kid k1, a fresh
 * jti unless given, issued now, valid 120 s, its audience the URL called.
 */
import { randomUUID } from 'node:crypto';
import type { CryptoKey } from 'jose';
import { SignJWT } from 'jose';

export function signCdsJwt(
  key: CryptoKey,
  o: { iss: string; aud: string; sub?: string; jti?: string },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: o.jti ?? randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'JWT' })
    .setIssuer(o.iss)
    .setSubject(o.sub ?? 'epic-client-7')
    .setAudience(o.aud)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(key);
}
