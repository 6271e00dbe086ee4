/**
 * A CDS client's JWKS file (CDS_TRUSTED_ISSUERS `jwksFile`) is read and checked by the
 * configuration: missing, not JSON or not a JWK Set of public keys, start-up stops with a message
 * naming the variable, the issuer, the file and why. Before, JSON.parse or readFileSync threw a bare
 * SyntaxError or ENOENT when the app was built, after storage was opened, and a private key failed
 * every call.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'jwks-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ISS = 'https://ehr.example.org';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecPublic = { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', use: 'sig' };
const rsaPublic = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', use: 'sig' };

let files = 0;
/** A file holding `text` (a string is written as is, anything else as JSON). */
function fileWith(content: unknown): string {
  const file = join(dir, `jwks-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function configWith(jwksFile: string): ReturnType<typeof loadConfig> {
  return loadConfig({
    PUBLIC_BASE_URL: 'https://cds.example.org',
    CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: ISS, jwksFile }]),
  });
}

describe('CDS_TRUSTED_ISSUERS jwksFile', () => {
  test.each<[string, () => string, string]>([
    ['missing', () => join(dir, 'absent.json'), 'was not found'],
    [
      'a folder',
      () => (mkdirSync(join(dir, 'folder'), { recursive: true }), join(dir, 'folder')),
      'cannot be read (not a regular file)',
    ],
    ['empty', () => fileWith(''), 'is not JSON'],
    ['cut short', () => fileWith('{"keys":[{"kty":"EC",'), 'is not JSON'],
    ['a list of keys, not a set', () => fileWith([ecPublic]), 'is not a JWK Set of public keys: it has no "keys" list'],
    ['null', () => fileWith('null'), 'is not a JWK Set of public keys: it has no "keys" list'],
    ['no key', () => fileWith({ keys: [] }), 'is not a JWK Set of public keys: its "keys" list is empty'],
    [
      'a key that is a string',
      () => fileWith({ keys: ['ec-1'] }),
      'is not a JWK Set of public keys: keys[0] is not an object',
    ],
    [
      'a private EC key',
      () => fileWith({ keys: [{ ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-1' }] }),
      'is not a JWK Set of public keys: keys[0] is a private or secret key (it has "d"): give the client\'s public keys only',
    ],
    [
      'a private RSA key after a public one',
      () => fileWith({ keys: [ecPublic, rsa.privateKey.export({ format: 'jwk' })] }),
      'is not a JWK Set of public keys: keys[1] is a private or secret key (it has "d"): give the client\'s public keys only',
    ],
    [
      'an HMAC secret',
      () => fileWith({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
      'is not a JWK Set of public keys: keys[0] is a private or secret key (it has "k"): give the client\'s public keys only',
    ],
    [
      'a public key with broken coordinates',
      () => fileWith({ keys: [{ ...ecPublic, x: 'AAAA' }] }),
      'is not a JWK Set of public keys: keys[0] is not a valid public key',
    ],
  ])('%s: start-up stops naming the variable, the issuer, the file and why', (_name, make, why) => {
    const file = make();
    expect(() => configWith(file)).toThrow(
      new ConfigError([`CDS_TRUSTED_ISSUERS: issuer "${ISS}": jwksFile ${file} ${why}`]),
    );
  });

  test('public EC and RSA keys (a byte order mark before them too) are taken, and handed to the verifier', () => {
    const keys = [ecPublic, rsaPublic];
    for (const file of [fileWith({ keys }), fileWith(`\uFEFF${JSON.stringify({ keys })}`)])
      expect(configWith(file).auth.trustedIssuers).toEqual([{ iss: ISS, jwksFile: file, jwks: { keys } }]);
  });

  test('whatever the file holds: its keys, or a ConfigError naming the variable, the issuer and the file', () => {
    const content = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((keys) => JSON.stringify({ keys })),
      fc.array(fc.jsonValue()).map((keys) => JSON.stringify({ keys: [ecPublic, ...keys] })),
      fc.dictionary(fc.string(), fc.jsonValue()).map((extra) => JSON.stringify({ keys: [{ ...ecPublic, ...extra }] })),
    );
    fc.assert(
      fc.property(content, (text) => {
        const file = fileWith(text);
        try {
          expect(configWith(file).auth.trustedIssuers[0]?.jwks?.keys.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          expect((error as ConfigError).problems).toEqual([
            expect.stringMatching(
              new RegExp(
                `^CDS_TRUSTED_ISSUERS: issuer "${ISS}": jwksFile ${file} (is not JSON|is not a JWK Set of public keys: .+)$`,
              ),
            ),
          ]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
