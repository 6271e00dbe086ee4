/**
 * POST /assessments: a FHIR Bundle of one patient's resources → the assessment (JSON).
 * Query: asOf (YYYY-MM-DD, default today in TIME_ZONE), infusionDate, patientId, series=true.
 */
import type { Request, Response } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import { assess } from '../clinical/assess.js';
import { withListedIssues } from '../clinical/listed-issues.js';
import { requireJsonBody } from '../cds-hooks/json-body.js';
import { badRequestFromZod } from '../cds-hooks/outcomes.js';
import { fhirIdSchema } from '../cds-hooks/schemas.js';
import { assessmentBundleSchema, bundleResources } from '../fhir/bundle.js';
import { engineSettings, type ClinicalContext } from '../profiles.js';
import { allowOnly } from '../cds-hooks/allow-only.js';

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');
/** A parameter given twice arrives as a list: said as such, not as "expected string, received array". */
const once = z.custom<unknown>((value) => !Array.isArray(value), { error: 'given more than once; give it once' });
const PARAMETERS = {
  asOf: once.pipe(date).optional(),
  infusionDate: once.pipe(date).optional(),
  patientId: once.pipe(fhirIdSchema).optional(),
  series: once.pipe(z.enum(['true', 'false'])).optional(),
};
const NAMES = Object.keys(PARAMETERS);

/** A parameter name as said back: JSON-quoted, cut at 40 characters. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

/**
 * The query, strictly: a parameter the API does not have is refused by name rather than ignored
 * (`infusiondate=` ignored would assess from the latest recorded infusion, not the day asked for).
 */
const querySchema = z.strictObject(PARAMETERS, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.slice(0, 3).map(quoted).join(', ')}${issue.keys.length > 3 ? ` and ${issue.keys.length - 3} more` : ''}; the parameters are ${NAMES.slice(0, -1).join(', ')} and ${NAMES.at(-1)}`
      : undefined,
});

export function assessmentsRouter(clinical: ClinicalContext, today: () => string): Router {
  const router = Router();
  router.post('/assessments', (req: Request, res: Response) => {
    const query = querySchema.safeParse(req.query);
    if (!query.success) throw badRequestFromZod(query.error, 'query');
    const body = requireJsonBody(req);
    const bundle = assessmentBundleSchema.safeParse(body);
    if (!bundle.success) throw badRequestFromZod(bundle.error);
    const screened = bundleResources(bundle.data);
    // An engine input error (AssessmentInputError) is a 400 from the error handler, as on every endpoint.
    const assessment = assess(screened.resources, {
      inputIssues: screened.issues,
      asOf: query.data.asOf ?? today(),
      asOfIsToday: query.data.asOf === undefined,
      infusionDate: query.data.infusionDate,
      patientId: query.data.patientId,
      ...engineSettings(clinical),
      includeSeries: query.data.series === 'true',
    });
    res.json(withListedIssues(assessment, clinical.terminology)); // a Bundle of a million bad entries: not a million issues back
  });
  router.all('/assessments', allowOnly('POST'));
  return router;
}
