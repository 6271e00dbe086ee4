/**
 * Service configuration: the only module that reads `process.env`.
 *
 * Every value is parsed once with zod at start-up; a bad value stops the process with a message
 * that names the variable. Tests build configs with {@link testConfig}.
 */
import { z } from 'zod';
import type { JSONWebKeySet } from 'jose';
import { readJwksFile } from './jwks-file.js';
import { normalizeIssuer, smartLaunchSettings, type SmartLaunchSettings } from './smart-config.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list; one that names nothing (`,`) is refused, as an empty value is (loadConfig). */
const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  )
  .refine((list) => list.length > 0, { message: 'lists nothing: remove it, or list at least one value' });

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1_048_576, gb: 1_073_741_824 };
/** A size in bytes: `33554432`, `32mb`, `500kb`. */
const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(String(v).trim());
  const bytes = match ? Math.floor(Number(match[1]) * (BYTE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1)) : NaN;
  if (!Number.isFinite(bytes) || bytes < 1024 || bytes > 1_073_741_824) {
    ctx.addIssue({ code: 'custom', message: 'must be a size between 1kb and 1gb, like 32mb' });
    return z.NEVER;
  }
  return bytes;
});

const trustedIssuerSchema = z
  .object({
    iss: z.string().min(1),
    // The keys that decide who may call: fetched over TLS only.
    jwksUrl: z.url({ protocol: /^https$/, error: 'the JWKS URL must be an https:// URL' }).optional(),
    jwksFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((i) => Boolean(i.jwksUrl) !== Boolean(i.jwksFile), {
    message: 'give exactly one of jwksUrl (https) or jwksFile',
  });

export type TrustedIssuer = z.infer<typeof trustedIssuerSchema> & {
  /** The keys of `jwksFile`, read and checked by loadConfig. */
  jwks?: JSONWebKeySet;
};

const trustedIssuers = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {iss, jwksUrl|jwksFile}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(trustedIssuerSchema)
      .min(1, 'lists no issuer: remove it to run without client authentication, or list the trusted CDS clients'),
  );

/** Whether `tz` is a time zone Intl knows (an IANA name such as Europe/Berlin, or UTC). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const timeZone = z.string().refine(isTimeZone, { message: 'must be an IANA time zone such as Europe/Berlin or UTC' });

/**
 * A whole number in decimal digits within [min, max], or `fallback` when unset. `z.coerce.number()`
 * read `0x10` as 16, `1e3` as 1000 and a value of spaces as 0 (PORT="  " listened on a random port).
 */
function wholeNumber(min: number, max: number, fallback: number): z.ZodType<number> {
  return z
    .string()
    .regex(/^\d+$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((n) => n ?? fallback);
}

/** Longest wait for a request's headers (they are a few kB: a client slower than this is not an EHR). */
const HEADERS_TIMEOUT_MAX_MS = 10_000;

const envSchema = z.object({
  PORT: wholeNumber(0, 65535, 8080),
  // No default here: unset, the service listens on 127.0.0.1 while client authentication is off (see loadConfig).
  HOST: z.string().min(1).optional(),
  PUBLIC_BASE_URL: httpUrl.optional(),
  TRUST_PROXY: bool.default(false),
  HTTP_REQUEST_TIMEOUT_MS: wholeNumber(1000, 600000, 30000),
  // At least 1kb: BODY_LIMIT=0kb answered every POST 413.
  BODY_LIMIT: z
    .string()
    .refine((limit) => /^\d+(kb|mb)$/i.test(limit) && byteCount(limit) >= 1024 && byteCount(limit) <= 1_073_741_824, {
      message: 'must be a size between 1kb and 1gb in kb or mb, like 16mb or 500kb',
    })
    .default('16mb'),
  BODY_MAX_JSON_VALUES: wholeNumber(1000, 100_000_000, 1_500_000),
  // Unset: 1.5 times BODY_MAX_JSON_VALUES, and twice BODY_LIMIT (see loadConfig).
  MAX_JSON_VALUES_IN_FLIGHT: wholeNumber(1000, 1_000_000_000, 0),
  MAX_BODY_BYTES_IN_FLIGHT: byteSize.optional(),
  MEMORY_WAIT_MS: wholeNumber(0, 60000, 2000),
  CORS_ORIGINS: csv.default(['*']),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  CDS_TRUSTED_ISSUERS: trustedIssuers.optional(),
  CDS_JWT_CLOCK_TOLERANCE_SECONDS: wholeNumber(0, 300, 30),
  CDS_JWT_MAX_LIFETIME_SECONDS: wholeNumber(1, 3600, 300),
  CDS_JWT_AUDIENCES: csv.optional(),

  FHIR_ALLOW_HTTP: bool.default(false),
  FHIR_ALLOWED_ORIGINS: csv.default([]),
  FHIR_TIMEOUT_MS: wholeNumber(100, 60000, 5000),
  FHIR_MAX_PAGES: wholeNumber(1, 1000, 50),
  FHIR_PAGE_SIZE: wholeNumber(10, 1000, 1000),
  FHIR_MAX_CONCURRENT_REQUESTS: wholeNumber(1, 64, 12),
  FHIR_MAX_RESPONSE_BYTES: byteSize.default(32 * 1_048_576),
  FHIR_MAX_CALL_BYTES: byteSize.default(64 * 1_048_576),
  // requiredLookbackDays of the default thresholds (src/clinical/thresholds.ts): 400 + 14 + 90.
  LOOKBACK_DAYS: wholeNumber(30, 3650, 504),

  DEMO: bool.default(false),
  THRESHOLDS_FILE: z.string().min(1).optional(),
  LOCAL_CODES_FILE: z.string().min(1).optional(),
  TIME_ZONE: timeZone.default('UTC'),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  FEEDBACK_SQLITE_PATH: z.string().min(1).default('data/feedback.sqlite'),
  STORAGE_TIMEOUT_MS: wholeNumber(100, 60000, 2000),
  CARD_RECORD_QUEUE_MAX: wholeNumber(1, 100000, 1000),
  ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  AUDIT_RETENTION_DAYS: wholeNumber(1, 36500, 2190),
  SHUTDOWN_DELAY_MS: wholeNumber(0, 120000, 0),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(1000, 600000, 25000),
  DATABASE_POOL_MAX: wholeNumber(1, 100, 5),

  SMART_CLIENT_ID: z.string().min(1).default('cart-hematotox-smart'),
  SMART_ALLOWED_ISS: csv.default([]),
  SMART_EHR_ONLY_ISS: csv.default([]),
  SMART_FRAME_ANCESTORS: csv.default([]),
  SMART_AUTH_ORIGINS: csv.default([]),

  // Libraries that use the `debug` package can print request headers (the EHR's bearer token) and
  // bodies (PHI) when their namespace is enabled; refuse to start with everything enabled.
  // The debug package splits namespaces on commas and whitespace (" *" and "a *" enable everything
  // too), and a name that begins with a wildcard ("*", "**", "*:*") matches every library's.
  DEBUG: z
    .string()
    .refine((d) => !d.split(/[\s,]+/).some((name) => name.startsWith('*') || name.includes('fhir-kit-client')), {
      message: 'enabling all debug output would write access tokens and patient data to the logs',
    })
    .optional(),
});

/** The environment variables the service reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  port: number;
  host: string;
  /** False when HOST was not set and the listen address was chosen from the authentication mode. */
  hostExplicit: boolean;
  /** Base URL the service is reachable at; the JWT `aud` is checked against it. */
  publicBaseUrl: string | undefined;
  trustProxy: boolean;
  http: {
    /** Longest time a client may take to send a whole request, body included (HTTP_REQUEST_TIMEOUT_MS). */
    requestTimeoutMs: number;
    /** Longest time a client may take to send a request's headers: the smaller of 10 s and requestTimeoutMs. */
    headersTimeoutMs: number;
  };
  bodyLimit: string;
  /** Most JSON values a request body may hold, counted before it is parsed (BODY_MAX_JSON_VALUES). */
  bodyMaxJsonValues: number;
  /** BODY_LIMIT in bytes. */
  bodyLimitBytes: number;
  /**
   * What all calls together may hold: JSON values parsed (request bodies and fhirServer answers),
   * bytes of request bodies; and how long a call waits for room before a 503
   * (MAX_JSON_VALUES_IN_FLIGHT, MAX_BODY_BYTES_IN_FLIGHT, MEMORY_WAIT_MS).
   */
  inFlight: { jsonValues: number; bodyBytes: number; waitMs: number };
  corsOrigins: string[];
  logLevel: string;
  auth: {
    trustedIssuers: TrustedIssuer[];
    clockToleranceSeconds: number;
    maxLifetimeSeconds: number;
    /**
     * Extra `aud` values accepted besides the URL called (with and without a trailing slash) and
     * PUBLIC_BASE_URL; empty by default.
     */
    extraAudiences: string[];
  };
  fhir: {
    allowHttp: boolean;
    allowedOrigins: string[];
    timeoutMs: number;
    maxPages: number;
    pageSize: number;
    /** FHIR requests of one CDS call in flight together, at most (FHIR_MAX_CONCURRENT_REQUESTS). */
    maxConcurrentRequests: number;
    lookbackDays: number;
    /** Largest FHIR response read, in bytes (decoded). */
    maxResponseBytes: number;
    /** Most bytes one CDS call may read from fhirServer, all responses together. */
    maxCallBytes: number;
  };
  demo: boolean;
  thresholdsFile: string | undefined;
  localCodesFile: string | undefined;
  timeZone: string;
  storage: {
    databaseUrl: string | undefined;
    sqlitePath: string;
    /** Every storage call, start to end (STORAGE_TIMEOUT_MS). */
    timeoutMs: number;
    /** Service calls whose issued cards may wait to be recorded (CARD_RECORD_QUEUE_MAX). */
    cardQueueMax: number;
    /** Connections each replica may open to PostgreSQL (DATABASE_POOL_MAX). */
    poolMax: number;
  };
  adminToken: string | undefined;
  smart: { clientId: string; allowedIss: string[] } & SmartLaunchSettings;
  /** Audit events older than this are deleted (AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number;
  shutdown: {
    /** SIGTERM: readiness answers 503 this long before the listener closes (SHUTDOWN_DELAY_MS). */
    delayMs: number;
    /** Longest wait for in-flight calls and queued writes after that (SHUTDOWN_TIMEOUT_MS). */
    timeoutMs: number;
  };
}

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** BODY_LIMIT (`16mb`, `500kb`: checked by the schema) in bytes. */
function byteCount(limit: string): number {
  const n = Number.parseInt(limit, 10);
  return /mb$/i.test(limit) ? n * 1_048_576 : n * 1024;
}

/**
 * MAX_JSON_VALUES_IN_FLIGHT (unset: 1.5 times BODY_MAX_JSON_VALUES) and MAX_BODY_BYTES_IN_FLIGHT
 * (unset: twice BODY_LIMIT), each at least what one call may hold, or that call could never be read.
 */
function inFlightSettings(
  e: z.infer<typeof envSchema>,
  problems: string[],
): { jsonValues: number; bodyBytes: number; bodyLimitBytes: number } {
  const jsonValues = e.MAX_JSON_VALUES_IN_FLIGHT || Math.floor(1.5 * e.BODY_MAX_JSON_VALUES);
  if (jsonValues < e.BODY_MAX_JSON_VALUES)
    problems.push(
      `MAX_JSON_VALUES_IN_FLIGHT: must be at least BODY_MAX_JSON_VALUES (${e.BODY_MAX_JSON_VALUES}), or a body allowed alone could never be read`,
    );
  const bodyLimitBytes = byteCount(e.BODY_LIMIT);
  const bodyBytes = e.MAX_BODY_BYTES_IN_FLIGHT ?? 2 * bodyLimitBytes;
  if (bodyBytes < bodyLimitBytes)
    problems.push(
      `MAX_BODY_BYTES_IN_FLIGHT: must be at least BODY_LIMIT (${e.BODY_LIMIT}), or a body allowed alone could never be read`,
    );
  return { jsonValues, bodyBytes, bodyLimitBytes };
}

type Variable = keyof typeof envSchema.shape;

/** What leaving a variable out means, where "use its default" would not say it. */
const UNSET_MEANS: Partial<Record<Variable, string>> = {
  HOST: 'listen where the authentication mode says (127.0.0.1 while it is off)',
  PUBLIC_BASE_URL: 'have none',
  CDS_TRUSTED_ISSUERS: 'run without client authentication',
  CDS_JWT_AUDIENCES: 'accept no audience besides the URL called and PUBLIC_BASE_URL',
  FHIR_ALLOWED_ORIGINS: 'allow any fhirServer origin',
  THRESHOLDS_FILE: 'use the default thresholds',
  LOCAL_CODES_FILE: 'add no local codes',
  DATABASE_URL: "keep feedback, card records, the jti replay store and the audit trail in this process's SQLite file",
  ADMIN_TOKEN: 'turn the admin endpoints off',
  DEBUG: 'enable no debug output',
};

/**
 * Variables of the service that are set but empty or blank. Such a value is refused, never read as
 * unset: `CDS_TRUSTED_ISSUERS=` from a missing secret key ran the service with no client
 * authentication, `DATABASE_URL=` on a SQLite file of each pod's own.
 */
function emptyVariables(env: Record<string, string | undefined>): string[] {
  return (Object.keys(envSchema.shape) as Variable[])
    .filter((name) => env[name]?.trim() === '')
    .map(
      (name) => `${name}: is set but empty; remove it to ${UNSET_MEANS[name] ?? 'use its default'}, or give a value`,
    );
}

/** Parses the environment (default `process.env`) into a {@link Config}; throws {@link ConfigError}. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const empty = emptyVariables(env);
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success || empty.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues;
    throw new ConfigError([...empty, ...issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`)]);
  }
  const e = parsed.data;
  const problems: string[] = [];
  const trustedIssuers = withKeyFiles(e.CDS_TRUSTED_ISSUERS ?? [], problems);
  if (trustedIssuers.length > 0 && !e.PUBLIC_BASE_URL) {
    // The audience of a CDS Hooks JWT is the URL that was called; deriving it from the Host header
    // would let a token minted for another service be replayed here.
    problems.push('PUBLIC_BASE_URL: required when CDS_TRUSTED_ISSUERS is set (the JWT aud is checked against it)');
  }
  problems.push(...urlProblems(e));
  const inFlight = inFlightSettings(e, problems);
  const smartIssuers: string[] = [];
  for (const iss of e.SMART_ALLOWED_ISS) {
    const normalized = normalizeIssuer(iss);
    if (!normalized)
      problems.push(`SMART_ALLOWED_ISS: "${iss}" is not a FHIR base URL like https://ehr.example.org/fhir`);
    else if (!normalized.startsWith('https://') && !e.FHIR_ALLOW_HTTP)
      problems.push(`SMART_ALLOWED_ISS: "${iss}" is not https (set FHIR_ALLOW_HTTP=true for a test server)`);
    else smartIssuers.push(normalized);
  }
  const smartLaunch = smartLaunchSettings(
    smartIssuers,
    { ehrOnly: e.SMART_EHR_ONLY_ISS, frameAncestors: e.SMART_FRAME_ANCESTORS, authOrigins: e.SMART_AUTH_ORIGINS },
    e.FHIR_ALLOW_HTTP,
  );
  problems.push(...smartLaunch.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: e.PORT,
    // Open service (no CDS client authentication) and HOST unset: loopback only, never every interface.
    host: e.HOST ?? (trustedIssuers.length > 0 ? '0.0.0.0' : '127.0.0.1'),
    hostExplicit: e.HOST !== undefined,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    trustProxy: e.TRUST_PROXY,
    http: httpTimeouts(e.HTTP_REQUEST_TIMEOUT_MS),
    bodyLimit: e.BODY_LIMIT,
    bodyMaxJsonValues: e.BODY_MAX_JSON_VALUES,
    bodyLimitBytes: inFlight.bodyLimitBytes,
    inFlight: { jsonValues: inFlight.jsonValues, bodyBytes: inFlight.bodyBytes, waitMs: e.MEMORY_WAIT_MS },
    corsOrigins: e.CORS_ORIGINS,
    logLevel: e.LOG_LEVEL,
    auth: {
      trustedIssuers,
      clockToleranceSeconds: e.CDS_JWT_CLOCK_TOLERANCE_SECONDS,
      maxLifetimeSeconds: e.CDS_JWT_MAX_LIFETIME_SECONDS,
      extraAudiences: e.CDS_JWT_AUDIENCES ?? [],
    },
    fhir: {
      allowHttp: e.FHIR_ALLOW_HTTP,
      allowedOrigins: e.FHIR_ALLOWED_ORIGINS,
      timeoutMs: e.FHIR_TIMEOUT_MS,
      maxPages: e.FHIR_MAX_PAGES,
      pageSize: e.FHIR_PAGE_SIZE,
      maxConcurrentRequests: e.FHIR_MAX_CONCURRENT_REQUESTS,
      lookbackDays: e.LOOKBACK_DAYS,
      maxResponseBytes: e.FHIR_MAX_RESPONSE_BYTES,
      maxCallBytes: Math.max(e.FHIR_MAX_CALL_BYTES, e.FHIR_MAX_RESPONSE_BYTES),
    },
    demo: e.DEMO,
    thresholdsFile: e.THRESHOLDS_FILE,
    localCodesFile: e.LOCAL_CODES_FILE,
    timeZone: e.TIME_ZONE,
    storage: {
      databaseUrl: e.DATABASE_URL,
      sqlitePath: e.FEEDBACK_SQLITE_PATH,
      timeoutMs: e.STORAGE_TIMEOUT_MS,
      cardQueueMax: e.CARD_RECORD_QUEUE_MAX,
      poolMax: e.DATABASE_POOL_MAX,
    },
    adminToken: e.ADMIN_TOKEN,
    smart: { clientId: e.SMART_CLIENT_ID, allowedIss: smartIssuers, ...smartLaunch.settings },
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, timeoutMs: e.SHUTDOWN_TIMEOUT_MS },
  };
}

/**
 * The issuers, each `jwksFile` read and checked now: a file missing, not JSON or not a JWK Set of
 * public keys stopped start-up with a bare stack (a SyntaxError, ENOENT) after storage was opened,
 * or failed every call.
 */
function withKeyFiles(issuers: TrustedIssuer[], problems: string[]): TrustedIssuer[] {
  return issuers.map((issuer) => {
    if (!issuer.jwksFile) return issuer;
    const read = readJwksFile(issuer.jwksFile);
    if ('jwks' in read) return { ...issuer, jwks: read.jwks };
    problems.push(`CDS_TRUSTED_ISSUERS: issuer ${JSON.stringify(issuer.iss)}: jwksFile ${issuer.jwksFile} ${read.why}`);
    return issuer;
  });
}

/** JWT audiences that are not URLs, and allowed FHIR origins that are not origins. */
function urlProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  for (const aud of e.CDS_JWT_AUDIENCES ?? []) {
    if (!URL.canParse(aud)) problems.push(`CDS_JWT_AUDIENCES: "${aud}" is not a URL`);
  }
  for (const origin of e.FHIR_ALLOWED_ORIGINS) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      problems.push(`FHIR_ALLOWED_ORIGINS: "${origin}" is not an origin like https://ehr.example.org`);
    }
  }
  return problems;
}

/** The request bound, and the headers bound derived from it (never longer: Node refuses that). */
function httpTimeouts(requestTimeoutMs: number): Config['http'] {
  return { requestTimeoutMs, headersTimeoutMs: Math.min(HEADERS_TIMEOUT_MAX_MS, requestTimeoutMs) };
}

/** A valid configuration for tests: the defaults, with `env` applied on top. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', FEEDBACK_SQLITE_PATH: ':memory:', ...env });
}
