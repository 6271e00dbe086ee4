/**
 * Audit retention (AUDIT_RETENTION_DAYS): every replica deletes, once an hour and once at start,
 * the audit events older than the retention period. Idempotent, so replicas need no coordination.
 */
import type { Logger } from 'pino';
import type { AuditStore } from './audit.js';

export function startAuditRetention(
  store: AuditStore,
  retentionDays: number,
  options: { log?: Logger | undefined; onDeleted?: (n: number) => void; everyMs?: number; now?: () => Date } = {},
): () => void {
  const now = options.now ?? (() => new Date());
  const run = (): void => {
    const before = new Date(now().getTime() - retentionDays * 86_400_000);
    store
      .prune(before)
      .then((n) => {
        if (n > 0) {
          options.onDeleted?.(n);
          options.log?.info({ deleted: n, retentionDays }, 'audit events past retention deleted');
        }
      })
      .catch((err: unknown) => {
        const e = err as { name?: unknown; code?: unknown };
        options.log?.warn(
          { error: [e.name, e.code].filter((x) => typeof x === 'string').join(' ') },
          'audit retention failed; will retry',
        );
      });
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, options.everyMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
