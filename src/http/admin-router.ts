/**
 * Administrative endpoints (quality teams, privacy officers), behind ADMIN_TOKEN, failed attempts
 * throttled per client address:
 *  - GET /admin/feedback/summary: accepted/overridden counts and the top override reasons per
 *    service and card kind;
 *  - GET /admin/audit?from=…&to=…: the audit trail of that time range as FHIR R4 AuditEvent
 *    resources, NDJSON (one a line), in id order; `_count` (default 1000, at most 10,000) per
 *    answer, and a `Link: <…>; rel="next"` header when more follow.
 */
import type { Request, Response } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import type { AuditStore, StoredAuditRecord } from '../audit/audit.js';
import { toAuditEvent } from '../audit/audit-event.js';
import type { FeedbackStore } from '../storage/feedback-store.js';
import { badRequestFromZod, serviceUnavailable } from '../cds-hooks/outcomes.js';
import type { AdminFailureLimiter } from './admin-limiter.js';
import { adminAuth } from './middleware.js';
import { allowOnly } from '../cds-hooks/allow-only.js';

export const AUDIT_PAGE_MAX = 10_000;
const READ_PAGE = 1000;

const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()), 'is not an instant that exists');
/**
 * A count written in decimal digits only: z.coerce.number() would take what Number() takes (`0x10`
 * as 16, `1e3`, `+5`, ` 5`), not what the client meant.
 */
const decimalCount = z
  .string()
  .regex(/^\d{1,9}$/, 'must be a whole number written in decimal digits')
  .transform(Number)
  .pipe(z.number().min(1).max(AUDIT_PAGE_MAX));
const auditQuery = z
  .looseObject({
    from: instant,
    to: instant,
    after: z
      .string()
      .regex(/^\d{1,18}$/, 'must be the id of an AuditEvent')
      .optional(),
    _count: decimalCount.default(1000),
  })
  // Also run when a field failed (zod runs an object's refinements on what parsed): compare only two dates.
  .refine((q) => !(q.from instanceof Date && q.to instanceof Date) || q.from.getTime() <= q.to.getTime(), {
    message: 'from is after to: the range is empty (give from ≤ to)',
    path: ['from'],
  });

export interface AdminRouterDeps {
  adminToken: string | undefined;
  feedback: FeedbackStore | undefined;
  audit?: AuditStore | undefined;
  now: () => Date;
  limiter?: AdminFailureLimiter | undefined;
  onAuthFailure?: (result: 'refused' | 'rate_limited') => void;
  /** AuditEvent.source.observer.display */
  sourceName?: string;
}

export function adminRouter(deps: AdminRouterDeps): Router {
  const router = Router();
  router.use('/admin', adminAuth(deps.adminToken, deps.limiter, deps.onAuthFailure));
  router.get('/admin/feedback/summary', async (_req: Request, res: Response) => {
    if (!deps.feedback) throw serviceUnavailable('Feedback storage is not configured');
    let summary;
    try {
      summary = await deps.feedback.summary(deps.now());
    } catch {
      throw serviceUnavailable('Feedback storage did not answer; try again later');
    }
    res.json(summary);
  });
  router.get('/admin/audit', async (req: Request, res: Response) => {
    if (!deps.audit) throw serviceUnavailable('The audit trail is not configured');
    const query = auditQuery.safeParse(req.query);
    if (!query.success) throw badRequestFromZod(query.error, 'query');
    const { from, to, after, _count: limit } = query.data;
    const records: StoredAuditRecord[] = [];
    try {
      // limit + 1: one more than answered tells whether a next page exists.
      let cursor = after;
      while (records.length < limit + 1) {
        const page = await deps.audit.read({
          from,
          to,
          afterId: cursor,
          limit: Math.min(READ_PAGE, limit + 1 - records.length),
        });
        records.push(...page);
        if (page.length === 0 || page.length < READ_PAGE) break;
        cursor = page[page.length - 1]?.id;
      }
    } catch {
      throw serviceUnavailable('Audit storage did not answer; try again later');
    }
    const answered = records.slice(0, limit);
    if (records.length > limit) {
      const next = new URLSearchParams({
        from: from.toISOString(),
        to: to.toISOString(),
        after: answered[answered.length - 1]?.id ?? '0',
        _count: String(limit),
      });
      res.setHeader('Link', `<${req.baseUrl}/admin/audit?${next.toString()}>; rel="next"`);
    }
    res.type('application/fhir+ndjson');
    const source = deps.sourceName ?? 'cart-hematotox-cds';
    res.send(answered.map((r) => `${JSON.stringify(toAuditEvent(r, source))}\n`).join(''));
  });
  for (const path of ['/admin/feedback/summary', '/admin/audit']) router.all(path, allowOnly('GET'));
  return router;
}
