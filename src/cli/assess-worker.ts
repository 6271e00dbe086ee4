/**
 * One patient of the CLI, in a worker thread (piscina) or in the main thread (cli/cohort.ts):
 * decodes, parses, screens and assesses the patient's NDJSON lines and answers with the output
 * already formatted (a CSV row or a JSON text). The lines come as the bytes of the files (shared,
 * not copied, between threads), so that decoding and splitting happen in the thread that assesses
 * rather than on the main thread that reads for all.
 */
import { assess, AssessmentInputError } from '../clinical/assess.js';
import { withListedIssues } from '../clinical/listed-issues.js';
import type { AssessmentIssue } from '../clinical/types.js';
import { ownerOf } from '../fhir/bundle.js';
import { jsonValueCount } from '../fhir/json-text.js';
import { screenResources } from '../fhir/resource-schemas.js';
import { engineSettings, loadClinicalContext, type ClinicalContext } from '../profiles.js';
import { assessmentCsvRow } from './csv.js';
import { heapMb, maxJsonValues } from './heap.js';
import { ndjsonLines } from './ndjson-stream.js';

export interface AssessTask {
  patientId: string;
  /** The patient's lines: UTF-8, each ended by '\n' (cli/ndjson-stream.ts). */
  ndjson: Uint8Array;
  /** Lines that go with every patient (Medication). */
  shared: string[];
  asOf: string;
  infusionDate: string | undefined;
  format: 'json' | 'csv';
  clinical: { thresholdsFile: string | undefined; localCodesFile: string | undefined; timeZone: string };
  /**
   * Where a worker marks the task {@link BEGUN}, then {@link ANSWERED} or {@link THREW} (shared
   * memory, one Int32): a worker that dies fails all its tasks alike, and this tells the patient it
   * died on (begun, neither answered nor threw) from those still waiting in its queue (not begun) or
   * answered in it (an answer the death lost), and from a task that threw.
   */
  progress?: Int32Array<SharedArrayBuffer>;
}

export const BEGUN = 1;
/** Returned its answer (which a worker dying before piscina hands it over still loses). */
export const ANSWERED = 2;
/** Threw: a fault of the program, which ends the run as it would in the main thread. */
export const THREW = 3;

export type AssessResult =
  | { patientId: string; output: string; leftOut: number; firstLeftOut?: string; misplaced: number }
  | { patientId: string; error: string; leftOut: number; misplaced: number };

let context: { key: string; clinical: ClinicalContext } | undefined;

/** The clinical context of `task`, loaded once per worker (ValueSets, hospital files). */
function clinicalFor(task: AssessTask): ClinicalContext {
  const key = JSON.stringify(task.clinical);
  if (context?.key !== key) context = { key, clinical: loadClinicalContext(task.clinical) };
  return context.clinical;
}

export default function assessPatient(task: AssessTask): AssessResult {
  if (task.progress) Atomics.store(task.progress, 0, BEGUN);
  let result: AssessResult;
  try {
    result = assessNow(task);
  } catch (error) {
    if (task.progress) Atomics.store(task.progress, 0, THREW);
    throw error;
  }
  // Neither is reached when the thread is ended mid-way (out of memory): the task stays begun.
  if (task.progress) Atomics.store(task.progress, 0, ANSWERED);
  return result;
}

/**
 * Whether `lines` (of `bytes` bytes in all) hold more than `max` JSON values; counted only when
 * their bytes are more (a text cannot hold more values than characters), one line at a time.
 */
function valuesOver(lines: readonly string[], bytes: number, max: number): boolean {
  if (bytes <= max) return false;
  let left = max;
  for (const line of lines) {
    if (line.length === 0) continue;
    left -= jsonValueCount(line, left);
    if (left < 0) return true;
  }
  return false;
}

function assessNow(task: AssessTask): AssessResult {
  const clinical = clinicalFor(task);
  const lines = ndjsonLines(task.ndjson);
  // Parsed, so many values would take this thread's heap (and V8 would spend minutes collecting first).
  const maxValues = maxJsonValues();
  if (valuesOver(lines, task.ndjson.byteLength, maxValues))
    return {
      patientId: task.patientId,
      error: `this patient's lines hold more than ${maxValues.toLocaleString('en-US')} JSON values, more than a thread's ${heapMb()} MB heap can parse; not assessed`,
      leftOut: 0,
      misplaced: 0,
    };
  const parsed: unknown[] = [];
  const unparsed: AssessmentIssue[] = [];
  for (const line of lines) {
    try {
      parsed.push(JSON.parse(line));
    } catch {
      // The reader placed the line by the patient reference in its bytes; the rest is not JSON.
      unparsed.push({
        severity: 'warning',
        code: 'resource-invalid',
        message: 'a line of this patient is not JSON; left out',
      });
    }
  }
  const screened = screenResources(parsed);
  screened.issues.unshift(...unparsed);
  // The reader placed each line by its text; a resource whose parsed owner differs is left out.
  const resources = screened.resources.filter((r) => ownerOf(r) === task.patientId);
  const misplaced = screened.resources.length - resources.length;
  for (const line of task.shared) resources.push(JSON.parse(line) as (typeof resources)[number]);
  const leftOut = screened.issues.length;
  try {
    const assessment = assess(resources, {
      asOf: task.asOf,
      infusionDate: task.infusionDate,
      patientId: task.patientId,
      ...engineSettings(clinical),
      inputIssues: screened.issues, // the row says what was left out (the CSV's issues column counts them)
    });
    const output =
      task.format === 'csv'
        ? assessmentCsvRow(assessment, clinical)
        : JSON.stringify(withListedIssues(assessment, clinical.terminology), null, 2);
    const first = screened.issues[0];
    return {
      patientId: task.patientId,
      output,
      leftOut,
      misplaced,
      ...(first ? { firstLeftOut: [first.resource, first.message].filter(Boolean).join(' ') } : {}),
    };
  } catch (error) {
    if (!(error instanceof AssessmentInputError)) throw error;
    return { patientId: task.patientId, error: error.message, leftOut, misplaced };
  }
}
