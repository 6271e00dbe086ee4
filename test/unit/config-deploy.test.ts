/**
 * Safe defaults of the configuration a deployment relies on: where the service listens, audit
 * retention, shutdown timing and the PostgreSQL pool.
 */
import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../src/config.js';

const ISSUERS = JSON.stringify([{ iss: 'https://ehr.example.org', jwksUrl: 'https://ehr.example.org/jwks' }]);

describe('HOST', () => {
  test('unset and client authentication off (the open demo): loopback only', () => {
    expect(loadConfig({})).toMatchObject({ host: '127.0.0.1', hostExplicit: false });
  });

  test('unset with trusted issuers configured: every interface', () => {
    expect(loadConfig({ CDS_TRUSTED_ISSUERS: ISSUERS, PUBLIC_BASE_URL: 'https://cds.example.org' })).toMatchObject({
      host: '0.0.0.0',
      hostExplicit: false,
    });
  });

  test('set explicitly: used as given, authentication or not (the Dockerfile and the manifests set it)', () => {
    expect(loadConfig({ HOST: '0.0.0.0' })).toMatchObject({ host: '0.0.0.0', hostExplicit: true });
  });
});

describe('deployment settings', () => {
  test('defaults: six years of audit, no shutdown delay, 25 s drain, 5 PostgreSQL connections', () => {
    expect(loadConfig({})).toMatchObject({
      auditRetentionDays: 2190,
      shutdown: { delayMs: 0, timeoutMs: 25_000 },
      storage: { poolMax: 5 },
    });
  });

  test.each([
    ['AUDIT_RETENTION_DAYS', '0'],
    ['SHUTDOWN_DELAY_MS', '-1'],
    ['SHUTDOWN_TIMEOUT_MS', '10'],
    ['DATABASE_POOL_MAX', '1000'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
