/**
 * JSON-lines logging with pino.
 *
 * What is logged is chosen field by field (ids, counts, statuses, durations). Redaction is the
 * second line of defence: should a request, a body or a token ever reach a log call, these paths
 * are censored.
 */
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'access_token',
  '*.access_token',
  'fhirAuthorization',
  '*.fhirAuthorization',
  'prefetch',
  '*.prefetch',
  'token',
  '*.token',
  'jwt',
  'body',
  '*.body',
];

/** Longest string a log line carries: anything taken from a request is cut there. */
export const MAX_LOGGED_STRING = 512;

/** Cuts long strings in plain objects and arrays (errors are left to pino's serializer). */
export function boundStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string')
    return value.length > MAX_LOGGED_STRING
      ? `${value.slice(0, MAX_LOGGED_STRING)}…[${value.length - MAX_LOGGED_STRING} more]`
      : value;
  if (depth > 4 || !value || typeof value !== 'object' || value instanceof Error) return value;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => boundStrings(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = boundStrings(v, depth + 1);
  return out;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cart-hematotox-cds' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => boundStrings(object) as Record<string, unknown>,
      },
    },
    destination,
  );
}

export type { Logger };
