/**
 * Audit records for POST /assessments (src/cds-hooks/router.ts records CDS calls itself): who
 * (the CDS client's JWT iss/sub), which patient (the one the assessment is about), the status and
 * the time. The patient id is read from the answer the assessments router sends.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuditRecord } from '../audit/audit.js';

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
