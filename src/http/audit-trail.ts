/**
 * Audit records for POST /assessments (src/cds-hooks/router.ts records CDS calls itself): who
 * (the CDS client's JWT iss/sub), which patient (the one the assessment is about), the status and
 * the time. The patient id is read from the answer the assessments router sends.
 *
 * And of the calls client authentication refuses (401, or 503 when the jti replay store does not
 * answer), which never reach a router: failed access attempts belong in the trail too.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuditRecord } from '../audit/audit.js';
import type { RefusalReason } from '../cds-hooks/auth.js';
import type { ServiceMetrics } from '../observability/metrics.js';

/** The hook label (metric and audit record) of a refused call to a service's feedback endpoint. */
export const FEEDBACK_HOOK = 'feedback';

/** What a refused call was for, read from its URL alone (its body is not read); undefined: not a call. */
function refusedTarget(
  req: Request,
  hooks: ReadonlyMap<string, string>,
): Pick<AuditRecord, 'action' | 'serviceId' | 'hook'> | undefined {
  if (req.method !== 'POST') return undefined; // discovery, and methods no route takes (405 once let in)
  const path = req.originalUrl.split('?')[0] ?? '';
  // Express matches routes case-insensitively, with or without a trailing slash: so does this.
  if (/^\/assessments\/?$/i.test(path)) return { action: 'assessment' };
  const call = /^\/cds-services\/([^/]+)(\/feedback)?\/?$/i.exec(path);
  if (!call?.[1]) return undefined;
  let serviceId = call[1];
  try {
    serviceId = decodeURIComponent(serviceId);
  } catch {
    // Kept as sent: the router would answer 400 for it, the trail still says what was called.
  }
  return { action: 'cds-call', serviceId, hook: call[2] ? FEEDBACK_HOOK : hooks.get(serviceId) };
}

/**
 * For cdsClientAuth's `onRefused`: counts the refusal by reason (cds_jwt_refusals_total) and, once a refused call to a CDS service, its feedback endpoint or
 * POST /assessments is answered, appends its audit record (status, refusal reason, request id,
 * client address; never the token, and no patient or user: the body was not read) and counts a
 * CDS call in cds_service_calls_total with its status, as the router counts the calls it answers.
 */
export function refusedCallTrail(deps: {
  audit?: { record(r: AuditRecord): void } | undefined;
  metrics?: Pick<ServiceMetrics, 'calls' | 'jwtRefusals' | 'serviceLabel'> | undefined;
  services: readonly { id: string; hook: string }[];
  now: () => Date;
}): (reason: RefusalReason, req: Request, res: Response) => void {
  const hooks = new Map(deps.services.map((s) => [s.id, s.hook]));
  return (reason, req, res) => {
    deps.metrics?.jwtRefusals.inc({ reason });
    const target = refusedTarget(req, hooks);
    if (!target) return;
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      if (target.action === 'cds-call' && deps.metrics) {
        const service = deps.metrics.serviceLabel(target.serviceId);
        const hook = service === 'unknown' ? 'unknown' : (target.hook ?? 'unknown');
        deps.metrics.calls.inc({ service, hook, status: String(status) });
      }
      deps.audit?.record({
        recordedAt: deps.now(),
        ...target,
        cardUuids: [],
        status,
        requestId: req.id,
        clientAddress: req.ip,
        refusal: reason,
      });
    });
  };
}

export function auditAssessments(audit: { record(r: AuditRecord): void }, now: () => Date): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    let patientId: string | undefined;
    const json = res.json.bind(res);
    res.json = (body: unknown): Response => {
      const id = (body as { patientId?: unknown } | null)?.patientId;
      if (typeof id === 'string') patientId = id;
      return json(body);
    };
    res.on('close', () => {
      const query = (req.query as Record<string, unknown>)['patientId'];
      audit.record({
        recordedAt: now(),
        action: 'assessment',
        clientIss: req.cdsClient?.iss,
        clientSub: req.cdsClient?.sub,
        patientId: patientId ?? (typeof query === 'string' ? query : undefined),
        cardUuids: [],
        status: res.writableFinished ? res.statusCode : 499,
        requestId: req.id,
        clientAddress: req.ip,
      });
    });
    next();
  };
}
