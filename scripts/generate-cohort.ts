/**
 * Writes a synthetic CAR-T cohort as FHIR Bulk Data NDJSON (for the CLI, demos and quality reports).
 *   npm run cohort -- --n 400 --seed 2002 --today 2026-11-22 --follow-up 60 --out /tmp/cohort
 */
import { parseArgs } from 'node:util';
import { writeBulkExport } from '../src/demo/bulk-export.js';
import { generateCohort } from '../src/demo/generator.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '400' },
    seed: { type: 'string', default: '2002' },
    today: { type: 'string', default: new Date().toISOString().slice(0, 10) },
    'follow-up': { type: 'string', default: '60' },
    out: { type: 'string', default: 'cohort' },
  },
});
const cohort = generateCohort({
  n: Number(values.n),
  seed: Number(values.seed),
  today: values.today,
  followUpDays: Number(values['follow-up']),
});
const counts = await writeBulkExport(values.out, cohort.resources.flat());
console.log(`wrote ${cohort.plans.length} patients to ${values.out}:`, counts);
