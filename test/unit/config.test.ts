/**
 * Configuration is read once from the environment and validated; a bad value names itself.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_HOSPITAL_THRESHOLDS, parseThresholds, requiredLookbackDays } from '../../src/clinical/thresholds.js';

describe('loadConfig', () => {
  test('defaults: port 8080, 16mb body limit (a 20,000-Observation prefetch), open CORS, demo off, https only, UTC', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      bodyLimit: '16mb',
      corsOrigins: ['*'],
      demo: false,
      timeZone: 'UTC',
      fhir: { allowHttp: false, timeoutMs: 5000, maxConcurrentRequests: 12 },
    });
    expect(c.auth.trustedIssuers).toEqual([]);
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ BODY_LIMIT: 'lots' }, 'BODY_LIMIT'],
    [{ FHIR_ALLOW_HTTP: 'maybe' }, 'FHIR_ALLOW_HTTP'],
    [{ TIME_ZONE: 'Mars/Olympus' }, 'TIME_ZONE'],
    [{ CDS_TRUSTED_ISSUERS: 'not json' }, 'CDS_TRUSTED_ISSUERS'],
    [
      {
        CDS_TRUSTED_ISSUERS: '[{"iss":"x","jwksUrl":"http://insecure.example/jwks"}]',
        PUBLIC_BASE_URL: 'https://cds.example.org',
      },
      'CDS_TRUSTED_ISSUERS.0.jwksUrl',
    ],
    [{ CDS_TRUSTED_ISSUERS: '[{"iss":"x","jwksFile":"/k.json"}]' }, 'PUBLIC_BASE_URL'],
    [{ FHIR_ALLOWED_ORIGINS: 'https://ehr.example.org/fhir' }, 'FHIR_ALLOWED_ORIGINS'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ DEBUG: 'fhir-kit-client:*' }, 'DEBUG'],
    [{ DEBUG: '*' }, 'DEBUG'],
    // The debug package splits on whitespace as on commas (helper review, 2026-11-23).
    [{ DEBUG: ' *' }, 'DEBUG'],
    [{ DEBUG: '* ' }, 'DEBUG'],
    [{ DEBUG: 'express:router *' }, 'DEBUG'],
    [{ DEBUG: 'express:router,\t*' }, 'DEBUG'],
    // A leading wildcard matches every library's namespaces (debug 4.4: '**' and '*:*' enable express and more).
    [{ DEBUG: '**' }, 'DEBUG'],
    [{ DEBUG: '*:*' }, 'DEBUG'],
    [{ DEBUG: 'express:router,*:router' }, 'DEBUG'],
    [{ HTTP_REQUEST_TIMEOUT_MS: '999' }, 'HTTP_REQUEST_TIMEOUT_MS'],
    // Numbers are decimal digits: coercion read 0x10 as 16, 1e3 as 1000 and spaces as 0 (a random port).
    [{ PORT: '0x10' }, 'PORT'],
    [{ PORT: '  ' }, 'PORT'],
    [{ FHIR_TIMEOUT_MS: '1e3' }, 'FHIR_TIMEOUT_MS'],
    [{ LOOKBACK_DAYS: '-5' }, 'LOOKBACK_DAYS'],
    [{ FHIR_MAX_PAGES: '2.5' }, 'FHIR_MAX_PAGES'],
  ])('%o stops start-up with a message naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as ConfigError).message).toContain(`${name}:`);
    }
  });

  test('DEBUG: any list with a name that begins with a wildcard or names fhir-kit-client is refused, any other is taken', () => {
    const name = fc.constantFrom(
      'express:router',
      'piscina',
      'express:*',
      '-express:router',
      '*',
      '**',
      '*:*',
      '*x',
      'fhir-kit-client:req',
    );
    const separator = fc.constantFrom(',', ' ', '\t', ', ', ' ,');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, separator), { minLength: 1, maxLength: 5 }), (parts) => {
        const DEBUG = parts.map(([n, sep]) => n + sep).join('');
        const refused = parts.some(([n]) => n.startsWith('*') || n.includes('fhir-kit-client'));
        if (refused) expect(() => loadConfig({ DEBUG })).toThrow(ConfigError);
        else expect(() => loadConfig({ DEBUG })).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  test('debug namespaces other than everything start the service', () => {
    for (const DEBUG of [
      'express:router',
      'express:router,piscina',
      ' express:* piscina ',
      'express:*,-express:router',
    ])
      expect(loadConfig({ DEBUG }).logLevel).toBe('info');
  });

  test('HTTP_REQUEST_TIMEOUT_MS bounds the whole request (default 30 s); headers within the smaller of 10 s and it', () => {
    expect(loadConfig({}).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000 });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '4000' }).http).toEqual({
      requestTimeoutMs: 4000,
      headersTimeoutMs: 4000,
    });
  });

  test('a JWKS URL over http stops start-up saying it must be https', () => {
    const env = {
      CDS_TRUSTED_ISSUERS: '[{"iss":"x","jwksUrl":"http://insecure.example/jwks"}]',
      PUBLIC_BASE_URL: 'https://cds.example.org',
    };
    expect(() => loadConfig(env)).toThrow(
      'Invalid configuration:\n  CDS_TRUSTED_ISSUERS.0.jwksUrl: the JWKS URL must be an https:// URL',
    );
  });

  // Before, an empty value was read as unset: CDS_TRUSTED_ISSUERS= (a secret key left empty) ran
  // the service with no client authentication, DATABASE_URL= on a SQLite file of each pod's own.
  test.each([
    [
      { CDS_TRUSTED_ISSUERS: '' },
      'CDS_TRUSTED_ISSUERS: is set but empty; remove it to run without client authentication, or give a value',
    ],
    [
      { CDS_TRUSTED_ISSUERS: '[]', PUBLIC_BASE_URL: 'https://cds.example.org' },
      'CDS_TRUSTED_ISSUERS: lists no issuer: remove it to run without client authentication, or list the trusted CDS clients',
    ],
    [
      { DATABASE_URL: '' },
      "DATABASE_URL: is set but empty; remove it to keep feedback, card records, the jti replay store and the audit trail in this process's SQLite file, or give a value",
    ],
    [
      { ADMIN_TOKEN: ' '.repeat(40) },
      'ADMIN_TOKEN: is set but empty; remove it to turn the admin endpoints off, or give a value',
    ],
    [{ PORT: '' }, 'PORT: is set but empty; remove it to use its default, or give a value'],
    [{ BODY_LIMIT: '' }, 'BODY_LIMIT: is set but empty; remove it to use its default, or give a value'],
    [{ FHIR_ALLOWED_ORIGINS: ' , ' }, 'FHIR_ALLOWED_ORIGINS: lists nothing: remove it, or list at least one value'],
  ])('%o stops start-up: %s', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError([message]));
  });

  test('every variable of the service, set empty or blank, stops start-up naming it; other variables are not read', () => {
    const names = [...CONFIG_VARIABLES];
    fc.assert(
      fc.property(
        fc.subarray(names, { minLength: 1 }),
        fc.stringMatching(/^[ \t]{0,3}$/),
        fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/),
        (empty, blank, other) => {
          const env = {
            ...Object.fromEntries(empty.map((name) => [name, blank])),
            ...(names.includes(other) ? {} : { [other]: '' }),
          };
          let problems: string[] = [];
          try {
            loadConfig(env);
          } catch (error) {
            problems = (error as ConfigError).problems;
          }
          expect(problems.map((p) => p.split(':')[0])).toEqual(empty);
          for (const p of problems) expect(p).toMatch(/: is set but empty; remove it to .+, or give a value$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  // Before, BODY_LIMIT=0kb was taken, and every POST answered 413.
  test.each<[string, number | 'refused']>([
    ['0kb', 'refused'],
    ['0mb', 'refused'],
    ['000kb', 'refused'],
    ['1023b', 'refused'],
    ['1kb', 1024],
    ['500KB', 512_000],
    ['1024mb', 1_073_741_824],
    ['1025mb', 'refused'],
    ['99999999999999999999mb', 'refused'],
  ])('BODY_LIMIT=%s: %s (bytes)', (BODY_LIMIT, bytes) => {
    if (bytes === 'refused')
      expect(() => loadConfig({ BODY_LIMIT })).toThrow(
        new ConfigError(['BODY_LIMIT: must be a size between 1kb and 1gb in kb or mb, like 16mb or 500kb']),
      );
    else expect(loadConfig({ BODY_LIMIT })).toMatchObject({ bodyLimit: BODY_LIMIT, bodyLimitBytes: bytes });
  });

  test('BODY_LIMIT: any count of kb or mb is taken exactly when it is 1kb to 1gb', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2_000_000 }), fc.constantFrom('kb', 'mb', 'KB', 'Mb'), (n, unit) => {
        const bytes = n * (unit.toLowerCase() === 'kb' ? 1024 : 1_048_576);
        const BODY_LIMIT = `${n}${unit}`;
        if (bytes >= 1024 && bytes <= 1_073_741_824) expect(loadConfig({ BODY_LIMIT }).bodyLimitBytes).toBe(bytes);
        else expect(() => loadConfig({ BODY_LIMIT })).toThrow('BODY_LIMIT: must be a size between 1kb and 1gb');
      }),
      { numRuns: 1000 },
    );
  });

  test('lists and booleans are parsed', () => {
    const c = loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example', FHIR_ALLOW_HTTP: 'true', DEMO: '1' });
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.fhir.allowHttp).toBe(true);
    expect(c.demo).toBe(true);
  });
});

describe('LOOKBACK_DAYS covers the follow-up and the baselines before it', () => {
  // By hand: follow-up 400 [actions.followUpDays] + lymphodepletion window 14 + the longer baseline look-back
  // (laboratory 30, immunology 90) = 504. With 400, a patient read from fhirServer on day +399 had no baselines.
  test.each<[string, unknown, number]>([
    ['the defaults: 400 + 14 + 90', undefined, 504],
    ['a hospital following to day +365', { actions: { followUpDays: 365 } }, 469],
    ['a laboratory look-back longer than the immunology one (120)', { baseline: { lookbackDays: 120 } }, 534],
  ])('%s → %d days', (_name, file, days) => {
    const t = file === undefined ? DEFAULT_HOSPITAL_THRESHOLDS : parseThresholds(file);
    expect(requiredLookbackDays(t.values)).toBe(days);
  });

  test('the default LOOKBACK_DAYS is what the default thresholds need', () => {
    expect(loadConfig({}).fhir.lookbackDays).toBe(requiredLookbackDays(DEFAULT_HOSPITAL_THRESHOLDS.values));
  });
});
