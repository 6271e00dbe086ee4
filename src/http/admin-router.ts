/**
 * Administrative reports (quality teams), behind ADMIN_TOKEN: GET /admin/feedback/summary gives
 * accepted/overridden counts and the top override reasons per service and card kind.
 */
import type { Request, Response } from 'express';
import { Router } from 'express';
import type { FeedbackStore } from '../storage/feedback-store.js';
import { serviceUnavailable } from '../cds-hooks/outcomes.js';
import { adminAuth } from './middleware.js';

export function adminRouter(adminToken: string | undefined, store: FeedbackStore | undefined, now: () => Date): Router {
  const router = Router();
  router.use('/admin', adminAuth(adminToken));
  router.get('/admin/feedback/summary', async (_req: Request, res: Response) => {
    if (!store) throw serviceUnavailable('Feedback storage is not configured');
    let summary;
    try {
      summary = await store.summary(now());
    } catch {
      throw serviceUnavailable('Feedback storage did not answer; try again later');
    }
    res.json(summary);
  });
  return router;
}
