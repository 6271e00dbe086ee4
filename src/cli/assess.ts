#!/usr/bin/env node
/**
 * cart-hematotox assess: assesses a FHIR Bundle file (one patient) or a folder of FHIR Bulk Data
 * NDJSON files (many patients), writing JSON or CSV. A progress bar goes to stderr for long runs.
 *
 *   cart-hematotox assess <bundle.json | folder> [--as-of YYYY-MM-DD] [--infusion-date YYYY-MM-DD]
 *     [--format json|csv] [--out FILE] [--thresholds FILE] [--local-codes FILE] [--time-zone TZ]
 */
import { createReadStream, createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { assess, AssessmentInputError } from '../clinical/assess.js';
import { todayIn } from '../clinical/dates.js';
import type { Assessment } from '../clinical/types.js';
import { ConfigError } from '../config.js';
import { assessmentBundleSchema, bundleResources, groupByPatient } from '../fhir/bundle.js';
import { screenResources, type Screened } from '../fhir/resource-schemas.js';
import { engineSettings, loadClinicalContext, type ClinicalContext } from '../profiles.js';
import { assessmentCsvHeader, assessmentCsvRow } from './csv.js';

const USAGE = `Usage: cart-hematotox assess <bundle.json | bulk-data-folder> [options]

Options:
  --as-of YYYY-MM-DD         assessment date (default: today)
  --infusion-date YYYY-MM-DD day 0 (default: the latest recorded CAR-T infusion)
  --format json|csv          output format (default: json)
  --out FILE                 write to FILE instead of standard output
  --thresholds FILE          hospital thresholds (JSON or YAML)
  --local-codes FILE         hospital local codes (JSON or YAML)
  --time-zone TZ             IANA time zone of lab days (default: UTC)
`;

class UsageError extends Error {}

async function readNdjsonFolder(folder: string): Promise<Screened> {
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.ndjson'))
    .sort();
  if (files.length === 0) throw new UsageError(`${folder} holds no .ndjson files`);
  const resources: unknown[] = [];
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(join(folder, file)), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      try {
        resources.push(JSON.parse(line));
      } catch {
        throw new AssessmentInputError(`${file} line ${n} is not JSON`);
      }
    }
  }
  return screenResources(resources);
}

function readBundle(file: string): Screened {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new AssessmentInputError(`${file} is not JSON`);
  }
  const bundle = assessmentBundleSchema.safeParse(json);
  if (!bundle.success)
    throw new AssessmentInputError(
      `${file}: ${bundle.error.issues.map((i) => `${i.path.join('.') || 'Bundle'}: ${i.message}`).join('; ')}`,
    );
  return bundleResources(bundle.data);
}

interface CliSetup {
  values: ReturnType<typeof parse>['values'];
  input: string;
  format: 'json' | 'csv';
  clinical: ClinicalContext;
}

/** Reads the arguments and loads the clinical context; an exit code (with the message written) when that fails. */
function setUp(argv: string[], err: NodeJS.WritableStream): CliSetup | number {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    err.write(`${(error as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = args;
  if (values.help || positionals[0] !== 'assess' || !positionals[1]) {
    err.write(USAGE);
    return values.help ? 0 : 1;
  }
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'csv') {
    err.write(`--format must be json or csv\n`);
    return 1;
  }
  let clinical: ClinicalContext;
  try {
    clinical = loadClinicalContext({
      thresholdsFile: values.thresholds,
      localCodesFile: values['local-codes'],
      timeZone: values['time-zone'] ?? 'UTC',
    });
  } catch (error) {
    err.write(`${(error as Error).message}\n`);
    return 1;
  }
  return { values, input: positionals[1], format, clinical };
}

/** Assesses each patient group in patient id order; a patient whose input cannot be assessed is reported and counted. */
function assessGroups(
  groups: Map<string, Screened['resources']>,
  screened: Screened,
  isFolder: boolean,
  asOf: string,
  setup: CliSetup,
  err: NodeJS.WritableStream & { isTTY?: boolean },
): { assessments: Assessment[]; failed: number } {
  const bar =
    err.isTTY && groups.size >= 20
      ? new SingleBar({ format: 'assessing {bar} {value}/{total} patients | {eta}s left', stream: err })
      : undefined;
  bar?.start(groups.size, 0);
  const assessments: Assessment[] = [];
  let failed = 0;
  for (const [patientId, resources] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    try {
      assessments.push(
        assess(resources, {
          asOf,
          infusionDate: setup.values['infusion-date'],
          patientId: patientId || undefined,
          ...engineSettings(setup.clinical),
          ...(isFolder ? {} : { inputIssues: screened.issues }),
        }),
      );
    } catch (error) {
      if (!(error instanceof AssessmentInputError)) throw error;
      failed++;
      err.write(`patient ${patientId || '(bundle)'}: ${error.message}\n`);
    }
    bar?.increment();
  }
  bar?.stop();
  return { assessments, failed };
}

/** Writes the assessments as CSV (a header and one row each) or JSON (one object for a bundle, an array for a folder). */
function writeAssessments(
  target: NodeJS.WritableStream,
  format: 'json' | 'csv',
  assessments: Assessment[],
  isFolder: boolean,
): void {
  if (format === 'csv') {
    target.write(`${assessmentCsvHeader()}\n`);
    for (const a of assessments) target.write(`${assessmentCsvRow(a)}\n`);
  } else {
    target.write(`${JSON.stringify(isFolder ? assessments : assessments[0], null, 2)}\n`);
  }
}

export async function run(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream & { isTTY?: boolean },
): Promise<number> {
  const setup = setUp(argv, err);
  if (typeof setup === 'number') return setup;
  const { values, input, format, clinical } = setup;
  const asOf = values['as-of'] ?? todayIn(clinical.timeZone);
  const target = values.out ? createWriteStream(values.out) : out;
  try {
    const isFolder = statSync(input).isDirectory();
    const screened = isFolder ? await readNdjsonFolder(input) : readBundle(input);
    // Resources left out name no patient reliably; a bundle is one patient, so its issues go with it.
    if (screened.issues.length > 0)
      err.write(
        `${screened.issues.length} resource(s) left out: not the shape the engine reads (first: ${screened.issues[0]?.resource ?? ''} ${screened.issues[0]?.message ?? ''})\n`,
      );
    const groups = isFolder ? groupByPatient(screened.resources) : new Map([['', screened.resources]]);
    const { assessments, failed } = assessGroups(groups, screened, isFolder, asOf, setup, err);
    writeAssessments(target, format, assessments, isFolder);
    if (target !== out) await new Promise<void>((resolve) => (target as NodeJS.WritableStream).end(resolve));
    err.write(`assessed ${assessments.length} patient(s) as of ${asOf}${failed ? `, ${failed} failed` : ''}\n`);
    return failed > 0 && assessments.length === 0 ? 2 : 0;
  } catch (error) {
    if (error instanceof AssessmentInputError || error instanceof UsageError || error instanceof ConfigError) {
      err.write(`${error.message}\n`);
      return 2;
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      err.write(`cannot read ${input}\n`);
      return 2;
    }
    throw error;
  }
}

const OPTIONS = {
  'as-of': { type: 'string' },
  'infusion-date': { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  thresholds: { type: 'string' },
  'local-codes': { type: 'string' },
  'time-zone': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(
  argv: string[],
): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>> {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  run(process.argv.slice(2), process.stdout, process.stderr)
    .then((code) => {
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 3;
    });
}
