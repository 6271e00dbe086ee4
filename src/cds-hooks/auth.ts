/**
 * Trusting CDS clients (CDS Hooks 2.0 "Trusting CDS Clients").
 *
 * Every call to discovery, a service or feedback must carry `Authorization: Bearer <JWT>` signed by
 * an allow-listed issuer. Checked here: algorithm (RS384/ES384 only: never `none` or HMAC), `typ`,
 * signature against the issuer's configured JWKS (the token's own `jku` is never fetched), `iss`,
 * `aud` equal to the URL called, `exp`/`iat` with a small clock tolerance, a bounded lifetime
 * (`exp` − `iat` and the age of `iat`, each at most CDS_JWT_MAX_LIFETIME_SECONDS plus the
 * tolerance), and `jti` not seen before within its lifetime. Failures are a bare 401; the reason goes to the
 * log, to `cds_jwt_refusals_total{reason}` and, through `onRefused`, to the audit trail; the token never does.
 *
 * The `jti`s seen live in a {@link ReplayStore}: in memory for one process (SQLite deployments),
 * in PostgreSQL when DATABASE_URL is set, so a token accepted by one replica is refused by every
 * other. When that store cannot answer, the call is refused with 503 (fail closed: an unchecked
 * token could be a replay).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { JWTVerifyGetKey } from 'jose';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Config, TrustedIssuer } from '../config.js';
import { serviceUnavailable, unauthorized } from './outcomes.js';

export const ALLOWED_ALGORITHMS = ['RS384', 'ES384'] as const;

/** Most `jti`s remembered at once (see ReplayCache). */
export const REPLAY_CACHE_MAX = 100_000;

/**
 * Remembers `jti`s until their token expires, so a captured token cannot be replayed. Each entry
 * lives until its token's `exp` plus the clock tolerance. The cache is bounded: past `max` live
 * entries the least recently seen is forgotten (100,000 tokens within one token lifetime is far
 * beyond any EHR's call rate, and memory stays bounded under a flood of forged-but-valid calls).
 */
/** Where `jti`s are remembered: this process (ReplayCache) or every replica (src/storage/replay-store.ts). */
export interface ReplayStore {
  readonly kind: string;
  /**
   * Records the token; resolves false when it was already seen and has not yet expired. Rejects
   * when the store cannot answer.
   */
  remember(issuer: string, jti: string, expiresAtMs: number, nowMs: number): boolean | Promise<boolean>;
}

/** Longest `jti` accepted (characters): a hostile client must not make the store hold megabytes. */
export const JTI_MAX_LENGTH = 256;

export class ReplayCache implements ReplayStore {
  readonly kind = 'memory';
  private readonly seen: LRUCache<string, true>;

  constructor(max = REPLAY_CACHE_MAX) {
    this.seen = new LRUCache<string, true>({ max });
  }

  /** Records the token; returns false when it was already seen and has not yet expired. */
  remember(issuer: string, jti: string, expiresAtMs: number, nowMs: number): boolean {
    const key = `${issuer}\u0000${jti}`;
    if (this.seen.has(key)) return false;
    const ttl = expiresAtMs - nowMs;
    // Already expired: nothing to remember (LRUCache reads a ttl of 0 as "forever").
    if (ttl > 0) this.seen.set(key, true, { ttl });
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface JwtVerifierOptions {
  issuers: TrustedIssuer[];
  clockToleranceSeconds: number;
  maxLifetimeSeconds: number;
  now?: () => Date;
  /** Default: an in-memory ReplayCache (one process). */
  replay?: ReplayStore | undefined;
}

/**
 * Why a token was refused, as a bounded set (the metric label `reason`; the log line has the
 * detail). `replay-store-unavailable` answers 503, every other 401.
 */
export type RefusalReason =
  | 'no-token'
  | 'malformed'
  | 'untrusted-issuer'
  | 'expired'
  | 'lifetime-too-long'
  | 'claim-invalid'
  | 'algorithm'
  | 'signature'
  | 'no-matching-key'
  | 'jwks-unavailable'
  | 'jti-missing'
  | 'jti-replayed'
  | 'replay-store-unavailable'
  | 'other';

export type VerifyResult =
  { ok: true; iss: string; sub?: string; tenant?: string } | { ok: false; reason: string; code: RefusalReason };

export class CdsJwtVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();
  private readonly replay: ReplayStore;
  private readonly now: () => Date;

  constructor(private readonly options: JwtVerifierOptions) {
    this.now = options.now ?? (() => new Date());
    this.replay = options.replay ?? new ReplayCache();
    for (const issuer of options.issuers) {
      if (issuer.jwksUrl) {
        this.keySets.set(
          issuer.iss,
          createRemoteJWKSet(new URL(issuer.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 }),
        );
      } else if (issuer.jwks) {
        // jwksFile, read and checked by loadConfig (src/jwks-file.ts).
        this.keySets.set(issuer.iss, createLocalJWKSet(issuer.jwks));
      }
    }
  }

  /** Verifies `token` for a call whose accepted `aud` values are `audience` (see acceptedAudiences). */
  async verify(token: string, audience: string | string[]): Promise<VerifyResult> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return { ok: false, reason: 'malformed JWT', code: 'malformed' };
    }
    const keySet = iss ? this.keySets.get(iss) : undefined;
    if (!iss || !keySet) return { ok: false, reason: 'issuer is not trusted', code: 'untrusted-issuer' };
    const current = this.now();
    try {
      const { payload } = await jwtVerify(token, keySet, {
        algorithms: [...ALLOWED_ALGORITHMS],
        issuer: iss,
        audience,
        typ: 'JWT',
        clockTolerance: this.options.clockToleranceSeconds,
        maxTokenAge: this.options.maxLifetimeSeconds + this.options.clockToleranceSeconds,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        currentDate: current,
      });
      const lifetime = lifetimeProblem(payload.iat ?? 0, payload.exp ?? 0, this.options);
      if (lifetime) return { ok: false, reason: lifetime, code: 'lifetime-too-long' };
      const exp = (payload.exp ?? 0) * 1000 + this.options.clockToleranceSeconds * 1000;
      if (typeof payload.jti !== 'string' || payload.jti.length === 0)
        return { ok: false, reason: 'jti missing', code: 'jti-missing' };
      if (payload.jti.length > JTI_MAX_LENGTH)
        return { ok: false, reason: `jti longer than ${JTI_MAX_LENGTH} characters`, code: 'claim-invalid' };
      const fresh = await this.rememberJti(iss, payload.jti, exp, current.getTime());
      if (fresh !== true) return fresh === false ? { ok: false, reason: 'jti replayed', code: 'jti-replayed' } : fresh;
      const tenant = typeof payload['tenant'] === 'string' ? payload['tenant'] : undefined;
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      return { ok: true, iss, ...(sub ? { sub } : {}), ...(tenant ? { tenant } : {}) };
    } catch (error) {
      return { ok: false, ...describeJoseError(error) };
    }
  }

  private async rememberJti(
    iss: string,
    jti: string,
    expiresAtMs: number,
    nowMs: number,
  ): Promise<boolean | { ok: false; reason: string; code: RefusalReason }> {
    try {
      return await this.replay.remember(iss, jti, expiresAtMs, nowMs);
    } catch {
      return { ok: false, reason: 'the jti replay store did not answer', code: 'replay-store-unavailable' };
    }
  }
}

/**
 * Why a token's lifetime (`exp` − `iat`) is too long, or undefined: at most
 * CDS_JWT_MAX_LIFETIME_SECONDS plus the clock tolerance. maxTokenAge bounds only the age of `iat`,
 * so a token with `exp` ten years on was accepted, and its jti kept in the replay store until then.
 */
function lifetimeProblem(
  iat: number,
  exp: number,
  o: Pick<JwtVerifierOptions, 'maxLifetimeSeconds' | 'clockToleranceSeconds'>,
): string | undefined {
  const longest = o.maxLifetimeSeconds + o.clockToleranceSeconds;
  if (exp - iat <= longest) return undefined;
  return `token lifetime (exp - iat) of ${exp - iat} s is longer than ${longest} s (CDS_JWT_MAX_LIFETIME_SECONDS plus the clock tolerance)`;
}

function describeJoseError(error: unknown): { reason: string; code: RefusalReason } {
  if (error instanceof joseErrors.JWTExpired) return { reason: 'token expired', code: 'expired' };
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return { reason: `claim ${error.claim} invalid: ${error.reason}`, code: 'claim-invalid' };
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return { reason: 'algorithm not allowed', code: 'algorithm' };
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return { reason: 'signature invalid', code: 'signature' };
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return { reason: 'no key in the issuer JWKS matches the token kid', code: 'no-matching-key' };
  if (error instanceof joseErrors.JWKSTimeout)
    return { reason: 'issuer JWKS did not answer in time', code: 'jwks-unavailable' };
  if (error instanceof joseErrors.JOSEError)
    return {
      reason: error.code,
      code: error.code === 'ERR_JWS_INVALID' || error.code === 'ERR_JWT_INVALID' ? 'malformed' : 'other',
    };
  return { reason: 'verification failed', code: 'other' };
}

/** The verifier the configuration asks for: undefined only when no trusted issuer is configured. */
export function createVerifier(config: Config, replay?: ReplayStore): CdsJwtVerifier | undefined {
  const { trustedIssuers, clockToleranceSeconds, maxLifetimeSeconds } = config.auth;
  return trustedIssuers.length > 0
    ? new CdsJwtVerifier({ issuers: trustedIssuers, clockToleranceSeconds, maxLifetimeSeconds, replay })
    : undefined;
}

/** The absolute URL of this request as the client addressed it, for the `aud` check. */
export function calledUrl(publicBaseUrl: string, req: Request): string {
  const path = req.originalUrl.split('?')[0] ?? '';
  return `${publicBaseUrl}${path}`;
}

/**
 * The `aud` values a JWT for this request may carry. CDS Hooks says the URL called; EHRs such as
 * Epic have the site type the audience in by hand, often as the service's base URL. Accepted: the
 * URL called, the service base URL and its discovery URL, each with and without a trailing slash, plus the ones
 * configured in CDS_JWT_AUDIENCES. Nothing else (a token minted for another service stays refused).
 */
export function acceptedAudiences(config: Pick<Config, 'publicBaseUrl' | 'auth'>, req: Request): string[] {
  const base = (config.publicBaseUrl ?? '').replace(/\/+$/, '');
  const called = calledUrl(base, req).replace(/\/+$/, '');
  const discovery = `${base}/cds-services`;
  return [
    ...new Set(
      [called, `${called}/`, base, `${base}/`, discovery, `${discovery}/`, ...config.auth.extraAudiences].filter(
        (a) => a.length > 1,
      ),
    ),
  ];
}

/**
 * Express middleware: verifies the CDS client's JWT when trusted issuers are configured; passes
 * everything through otherwise (the server warns loudly at start-up that it runs open).
 */
export function cdsClientAuth(
  config: Config,
  verifier: CdsJwtVerifier | undefined,
  log: Logger,
  onRefused: (reason: RefusalReason, req: Request, res: Response) => void = () => undefined,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!verifier || req.method === 'OPTIONS') {
      next();
      return;
    }
    const header = req.get('authorization') ?? '';
    // RFC 7235: the auth scheme is case-insensitive.
    const match = /^Bearer\s+([A-Za-z0-9_.-]+)\s*$/i.exec(header);
    if (!match?.[1]) {
      log.warn({ reqId: req.id }, 'CDS client rejected: no bearer JWT');
      onRefused('no-token', req, res);
      next(unauthorized('no bearer token'));
      return;
    }
    verifier
      .verify(match[1], acceptedAudiences(config, req))
      .then((result) => {
        if (!result.ok) {
          log.warn({ reqId: req.id, reason: result.reason }, 'CDS client rejected');
          onRefused(result.code, req, res);
          next(
            result.code === 'replay-store-unavailable'
              ? serviceUnavailable('Client authentication cannot be checked right now; try again later')
              : unauthorized(result.reason),
          );
          return;
        }
        req.cdsClient = {
          iss: result.iss,
          ...(result.sub ? { sub: result.sub } : {}),
          ...(result.tenant ? { tenant: result.tenant } : {}),
        };
        next();
      })
      .catch(next);
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    cdsClient?: { iss: string; sub?: string; tenant?: string };
  }
}
