/**
 * What `cart-hematotox assess` does (the entry, assess.ts, loads this module once the workers are
 * starting): assesses a FHIR Bundle file (one patient) or a folder of FHIR Bulk Data NDJSON files
 * (many patients), writing JSON or CSV. A progress bar goes to stderr for long runs.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Piscina } from 'piscina';
import { assess, AssessmentInputError } from '../clinical/assess.js';
import { withListedIssues } from '../clinical/listed-issues.js';
import { isDate, todayIn } from '../clinical/dates.js';
import { ConfigError, isTimeZone } from '../config.js';
import { assessmentBundleSchema, bundleResources } from '../fhir/bundle.js';
import { decodeJsonText, jsonValuesOver, TextDecodingError } from '../fhir/json-text.js';
import type { Screened } from '../fhir/resource-schemas.js';
import { engineSettings, loadClinicalContext, type ClinicalContext } from '../profiles.js';
import { FileReadError, FileTooLargeError, readRegularFile } from '../read-file.js';
import { assessFolder, UsageError } from './cohort.js';
import { leftOutMessage } from './cohort-report.js';
import { parse } from './args.js';
import { heapMb, maxJsonValues } from './heap.js';
import { assessmentCsvRow } from './csv.js';
import { exitOnSignals, onInterrupt } from './interrupt.js';
import { openOutput, OutputClosed, OutputError, type Output } from './output.js';
import { startPool } from './pool.js';
import { printable } from './printable.js';
import { ReportWriter } from './report-writer.js';

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

/** What a shell reports for a program stopped by SIGPIPE (128 + 13): standard output was closed by its reader. */
export const EXIT_OUTPUT_CLOSED = 141;

/**
 * Largest Bundle file read: V8's strings stop at about 512 MB, and a Bundle that size is better
 * given as a Bulk Data folder, which is read patient by patient.
 */
const MAX_BUNDLE_BYTES = 512 * 1_048_576;

function readBundle(file: string): Screened {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, MAX_BUNDLE_BYTES);
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    const hint = error instanceof FileTooLargeError ? ' (give a Bulk Data NDJSON folder instead)' : '';
    throw new AssessmentInputError(`cannot read ${file}: ${error.message}${hint}`);
  }
  let text: string;
  try {
    text = decodeJsonText(bytes, undefined); // a byte order mark is skipped
  } catch (error) {
    if (!(error instanceof TextDecodingError)) throw error;
    // As POST /assessments: toString would turn the bad bytes into U+FFFD without a word.
    throw new AssessmentInputError(`${file} is not valid UTF-8`);
  }
  // Parsed here on the main thread, whose heap exhausted ends the process (V8 aborts it).
  const maxValues = maxJsonValues();
  if (jsonValuesOver(text, maxValues))
    throw new AssessmentInputError(
      `${file} holds more than ${maxValues.toLocaleString('en-US')} JSON values, more than a thread's ${heapMb()} MB heap can parse (give a Bulk Data NDJSON folder instead)`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
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

/**
 * An error's message as printed: what it quotes from the input (names, paths, keys) with control
 * characters escaped; a ConfigError's own line ends kept.
 */
function messageOf(error: unknown): string {
  if (error instanceof ConfigError)
    return ['Invalid configuration:', ...error.problems.map((problem) => `  ${printable(problem)}`)].join('\n');
  return printable((error as Error).message);
}

interface CliSetup {
  values: ReturnType<typeof parse>['values'];
  input: string;
  format: 'json' | 'csv';
  clinical: ClinicalContext;
}

/** Whether `out` is the input file, or a file inside the input folder (links followed where they exist). */
function writesIntoInput(out: string, input: string): boolean {
  const real = (path: string): string => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path); // not there (yet)
    }
  };
  // An existing --out is followed to its target (a link is written through, cli/output.ts).
  const target = existsSync(out) ? real(out) : join(real(dirname(out)), basename(out));
  const source = real(input);
  return target === source || target.startsWith(`${source}${sep}`);
}

/** What is wrong with the options, checked before any work; undefined when nothing is. */
function optionProblem(values: CliSetup['values'], input: string): string | undefined {
  for (const name of ['as-of', 'infusion-date'] as const) {
    const value = values[name];
    if (value !== undefined && !isDate(value)) return `--${name} must be a date YYYY-MM-DD that exists, got "${value}"`;
  }
  if (values.out !== undefined && writesIntoInput(values.out, input))
    return `--out must not be the input or inside its folder (${values.out})`;
  const timeZone = values['time-zone'];
  if (timeZone !== undefined && !isTimeZone(timeZone))
    return `--time-zone must be an IANA time zone such as Europe/Berlin or UTC, got "${timeZone}"`;
  return undefined;
}

/** Reads the arguments and loads the clinical context; an exit code (with the message written) when that fails. */
function setUp(argv: string[], err: NodeJS.WritableStream): CliSetup | number {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    err.write(`${messageOf(error)}\n\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = args;
  if (values.help || positionals[0] !== 'assess' || !positionals[1]) {
    err.write(USAGE);
    return values.help ? 0 : 1;
  }
  const extra = positionals.slice(2);
  if (extra.length > 0) {
    // `assess A B` would assess A alone and exit 0: B (a second export, a shell glob's match) unsaid.
    err.write(`assess takes one Bundle file or folder; also given: ${printable(extra.join(' '))}\n\n${USAGE}`);
    return 1;
  }
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'csv') {
    err.write(`--format must be json or csv\n`);
    return 1;
  }
  const problem = optionProblem(values, positionals[1]);
  if (problem) {
    err.write(`${printable(problem)}\n`);
    return 1;
  }
  let clinical: ClinicalContext;
  try {
    clinical = loadClinicalContext({
      thresholdsFile: values.thresholds,
      localCodesFile: values['local-codes'],
      timeZone: values['time-zone'] ?? 'UTC',
      names: { thresholds: '--thresholds', localCodes: '--local-codes' },
    });
  } catch (error) {
    err.write(`${messageOf(error)}\n`);
    return 1;
  }
  return { values, input: positionals[1], format, clinical };
}

/** Assesses the one patient of a Bundle file, in this thread: its output, undefined when it failed (said on stderr). */
function assessBundle(
  screened: Screened,
  asOf: string,
  setup: CliSetup,
  err: NodeJS.WritableStream,
): string | undefined {
  try {
    const assessment = assess(screened.resources, {
      asOf,
      infusionDate: setup.values['infusion-date'],
      ...engineSettings(setup.clinical),
      inputIssues: screened.issues,
    });
    return setup.format === 'csv'
      ? assessmentCsvRow(assessment, setup.clinical)
      : JSON.stringify(withListedIssues(assessment, setup.clinical.terminology), null, 2);
  } catch (error) {
    if (!(error instanceof AssessmentInputError)) throw error;
    err.write(`patient (bundle): ${messageOf(error)}\n`);
    return undefined;
  }
}

/**
 * Runs `cart-hematotox` with `argv`; the exit code. `early`: the worker threads, if the entry
 * started them already (a folder without them gets its own). Either way they end with the run.
 */
export async function run(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  early?: Piscina,
): Promise<number> {
  let pool = early;
  try {
    return await runWith(argv, out, err, () => (pool ??= startPool()));
  } finally {
    await pool?.destroy();
  }
}

async function runWith(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  workers: () => Piscina | undefined,
): Promise<number> {
  const setup = setUp(argv, err);
  if (typeof setup === 'number') return setup;
  const { values, clinical } = setup;
  const asOf = values['as-of'] ?? todayIn(clinical.timeZone);
  const existed = values.out !== undefined && existsSync(values.out);
  // Set up before --out's partial copy exists, which SIGINT, SIGTERM and SIGHUP then remove (interrupt.ts).
  const run: RunState = { written: () => 0, delivered: () => 0 };
  const forget = onInterrupt(() => run.output?.discard());
  const restoreSignals = exitOnSignals(err, (signal) => interruptedLine(signal, values.out, existed, run));
  try {
    try {
      // Before any work: a --out that cannot be written fails now, not after the whole cohort.
      run.output = openOutput(values.out, out);
      await run.output.ready();
    } catch (error) {
      run.output?.discard();
      if (!(error instanceof OutputError)) throw error;
      err.write(`${messageOf(error)}\n`);
      return 2;
    }
    return await writeReport(setup, asOf, run.output, err, workers, run);
  } finally {
    forget();
    restoreSignals();
  }
}

/** What an interruption needs to know of the run: its output, once open, and how many patients were written and taken in full. */
interface RunState {
  output?: Output;
  written: () => number;
  delivered: () => number;
}

/** Assesses the input and writes the report to `output`; the exit code. */
async function writeReport(
  setup: CliSetup,
  asOf: string,
  output: Output,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  workers: () => Piscina | undefined,
  run: RunState,
): Promise<number> {
  const { values, input, format } = setup;
  try {
    const isFolder = statSync(input).isDirectory();
    // Each patient's output is written as soon as it and those before it are done (cohort.ts).
    const report = new ReportWriter(output, format, isFolder);
    run.written = () => report.written;
    run.delivered = () => report.delivered;
    let failed = 0;
    if (isFolder) {
      const options = {
        asOf,
        infusionDate: values['infusion-date'],
        format,
        clinical: {
          thresholdsFile: values.thresholds,
          localCodesFile: values['local-codes'],
          timeZone: values['time-zone'] ?? 'UTC',
        },
      };
      ({ failed } = await assessFolder(input, options, err, workers(), report));
    } else {
      const screened = readBundle(input);
      if (screened.issues.length > 0) err.write(leftOutMessage(screened.issues.length, screened.issues[0]));
      const text = assessBundle(screened, asOf, setup, err);
      if (text === undefined) failed = 1;
      else await report.add(text);
    }
    if (report.written === 0 && failed === 0) throw new AssessmentInputError(`${input}: no patient found`);
    if (report.written === 0) {
      // Nothing to report: an existing --out stays as it was (a header or `[]` alone would replace it).
      output.discard();
      err.write(`assessed 0 patient(s) as of ${asOf}, ${failed} failed: nothing written\n`);
      return 2;
    }
    await report.end();
    err.write(`assessed ${report.written} patient(s) as of ${asOf}${failed ? `, ${failed} failed` : ''}\n`);
    return 0;
  } catch (error) {
    output.discard();
    // The reader of standard output stopped reading (e.g. `| head`): end quietly, as Unix tools do.
    if (error instanceof OutputClosed) return EXIT_OUTPUT_CLOSED;
    if (
      error instanceof AssessmentInputError ||
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof OutputError
    ) {
      err.write(`${messageOf(error)}\n`);
      return 2;
    }
    const { code, path } = error as NodeJS.ErrnoException;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      // The file system refused (a folder or file missing, unreadable, a loop of links, too many open files).
      err.write(`cannot read ${printable(path ?? input)}: ${code}\n`);
      return 2;
    }
    throw error;
  }
}

/** The line said when a signal interrupts the run: what became of the output. */
function interruptedLine(signal: NodeJS.Signals, out: string | undefined, existed: boolean, run: RunState): string {
  const head = `interrupted (${signal})`;
  if (out !== undefined && run.output?.restartable !== false)
    return `${head}: nothing written, ${printable(out)} ${existed ? 'left as it was' : 'not created'}`;
  // Counted once the system has taken them: the process ends now, and what its buffer holds is lost.
  const delivered = run.delivered();
  if (run.written() === 0) return `${head}: nothing written`;
  if (delivered === 0) return `${head}: no patient written in full; what was written may be cut off`;
  return `${head}: ${out === undefined ? 'standard output' : printable(out)} has the first ${delivered} patient(s) in full; what follows them may be cut off`;
}
